//! What the public portal asks of the cadastre: communes by name (accent- and case-insensitive,
//! pre- or post-merger), parcels by the address of where they lie (`place_name`, through the
//! trigram index of migration 1012), the parcel at a point, VN-2000 TM-3 coordinates whose zone is guessed,
//! and the date the cadastral data is valid for. Public columns only (never owner or address).

use serde::Serialize;
use sqlx::PgPool;
use unicode_normalization::UnicodeNormalization as _;

use crate::lookup::{LookupError, Parcel};

/// Text folded for matching: lower case, no diacritics, `đ` → `d`, spaces collapsed.
pub fn fold(text: &str) -> String {
    let stripped: String = text
        .nfd()
        .filter(|c| !('\u{0300}'..='\u{036F}').contains(c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            c => c,
        })
        .collect::<String>()
        .to_lowercase();
    stripped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A commune found by name, with the merger crosswalk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommuneMatch {
    /// Pre-merger code.
    pub legacy_code: String,
    /// Pre-merger name.
    pub legacy_name: String,
    /// Post-merger code.
    pub code: String,
    /// Post-merger name.
    pub name: String,
    /// WGS84 box (west, south, east, north).
    pub bbox: [f64; 4],
}

/// Communes whose pre- or post-merger name (or code) contains `text`, folded; at most `limit`.
pub async fn communes_named(
    pool: &PgPool,
    text: &str,
    limit: usize,
) -> Result<Vec<CommuneMatch>, LookupError> {
    let wanted = fold(text);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    type Row = (String, String, String, String, f64, f64, f64, f64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT legacy_code, legacy_name, code, name, ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)
         FROM (SELECT *, ST_Transform(geom_3857, 4326)::box2d AS b FROM land.communes) c
         ORDER BY legacy_code",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(lc, ln, c, n, ..)| {
            lc == &wanted || c == &wanted || fold(ln).contains(&wanted) || fold(n).contains(&wanted)
        })
        .take(limit)
        .map(
            |(legacy_code, legacy_name, code, name, w, s, e, n)| CommuneMatch {
                legacy_code,
                legacy_name,
                code,
                name,
                bbox: [w, s, e, n],
            },
        )
        .collect())
}

/// Words of an address search at most (more add nothing but SQL).
const MAX_ADDRESS_WORDS: usize = 8;

/// Words shorter than this match whole words only (a house number "31" is not part of "131").
pub const WHOLE_WORD_BELOW: usize = 3;

/// The words of an address as the search matches them: folded, split at every ASCII character
/// that is not a letter or digit ("12/3" → "12", "3"; commas dropped; any other character
/// belongs to its word, as in the stored column of land migration 1016), at most
/// [`MAX_ADDRESS_WORDS`].
pub fn address_words(text: &str) -> Vec<String> {
    let mut w = words(text);
    w.truncate(MAX_ADDRESS_WORDS);
    w
}

fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| c.is_ascii() && !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// A place name as the search reads it (the stored `land.parcels.place_fold`): its folded
/// words between single spaces, a space at each end, so that `LIKE '% 31 %'` is a whole word.
pub fn searched_form(place: &str) -> String {
    format!(" {} ", words(place).join(" "))
}

/// Parcels whose location address (`place_name`: "Số 12 đường Phú Riềng Đỏ, phường Tân Phú";
/// public, never the owner's `address`) holds every word of `text`, accents and case ignored,
/// in any order — words of three characters or more also as parts of words ("12 phu rieng"
/// finds it), shorter ones as whole words only ("31" is house 31, not 131: a part of a word
/// that short would also leave the trigram index nothing to narrow by) —; best first (the
/// words in the order typed, as whole words, then the shorter address), at most `limit`. Each
/// word is its own `LIKE` over the stored searched form ([`searched_form`], land migration
/// 1016), so the trigram index answers; a search without a word of three letters is refused
/// ([`LookupError::VagueAddress`]).
pub async fn parcels_at_address(
    pool: &PgPool,
    text: &str,
    limit: u32,
) -> Result<Vec<Parcel>, LookupError> {
    let words = address_words(text);
    if !words.iter().any(|w| w.chars().count() >= WHOLE_WORD_BELOW) {
        return Err(LookupError::VagueAddress);
    }
    // Words hold no ASCII punctuation, so none holds a LIKE wildcard or escape. A short word
    // of letters ("so", "an") is in nearly every address: its padded trigrams would make the
    // index read almost every row's entry (a typical search 0.5 → 1.6 ms at 1,000,000
    // parcels), so it is checked on the rows the other words leave (`strpos`, which the index
    // cannot take); a short number narrows well and stays in the index.
    let (likes, binds): (Vec<String>, Vec<String>) = words
        .iter()
        .enumerate()
        .map(|(k, w)| {
            let pattern = word_pattern(w);
            if w.chars().count() < WHOLE_WORD_BELOW && !w.chars().all(|c| c.is_ascii_digit()) {
                (
                    format!("strpos(place_fold, ${}) > 0", k + 4),
                    pattern.trim_matches('%').to_string(),
                )
            } else {
                (format!("place_fold LIKE ${}", k + 4), pattern)
            }
        })
        .unzip();
    // Ranked: the words in the order typed ("12 so 7" is house 12 on street 7, not house 7 on
    // street 12), then how well they match as whole words, then the shorter address. The
    // similarity is the costly part (common words match thousands of lots): when `limit` lots
    // hold the words in order, only those can be in the answer, so only those are ranked.
    let sql = format!(
        "WITH m AS MATERIALIZED (
             SELECT id, place_fold, place_fold LIKE $3 AS in_order, length(place_name) AS len
             FROM land.parcels WHERE {}),
         enough AS (
             SELECT count(*) >= $2 AS yes FROM (SELECT 1 FROM m WHERE in_order LIMIT $2) o),
         hit AS (
             SELECT id, in_order, strict_word_similarity($1, place_fold) AS rank, len
             FROM m WHERE in_order OR NOT (SELECT yes FROM enough)
             ORDER BY in_order DESC, rank DESC, len, id LIMIT $2)
         {} JOIN hit h ON h.id = p.id
         ORDER BY h.in_order DESC, h.rank DESC, h.len, p.id",
        likes.join(" AND "),
        crate::lookup::select()
    );
    let mut query = sqlx::query_as::<_, crate::lookup::Row>(&sql)
        .bind(words.join(" "))
        .bind(i64::from(limit))
        .bind(format!("%{}%", words.join("%")));
    for b in binds {
        query = query.bind(b);
    }
    Ok(query
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(crate::lookup::to_parcel)
        .collect())
}

/// The `LIKE` pattern of one typed word over [`searched_form`]: a short word whole (its
/// spaces padded into the trigrams), a longer one anywhere.
pub fn word_pattern(word: &str) -> String {
    if word.chars().count() < WHOLE_WORD_BELOW {
        format!("% {word} %")
    } else {
        format!("%{word}%")
    }
}

/// The commune code `text` names: a five-digit code as given, else the one commune (post-merger
/// preferred) whose name folds to exactly `text`. `None` when none or several.
pub async fn commune_code(pool: &PgPool, text: &str) -> Result<Option<String>, LookupError> {
    let t = text.trim();
    if t.len() == 5 && t.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(t.to_string()));
    }
    let wanted = fold(t);
    let found = communes_named(pool, t, 1000).await?;
    let mut new: Vec<String> = found
        .iter()
        .filter(|c| fold(&c.name) == wanted)
        .map(|c| c.code.clone())
        .collect();
    new.dedup();
    if new.len() == 1 {
        return Ok(new.pop());
    }
    let old: Vec<String> = found
        .iter()
        .filter(|c| fold(&c.legacy_name) == wanted)
        .map(|c| c.legacy_code.clone())
        .collect();
    Ok((old.len() == 1).then(|| old[0].clone()))
}

/// The parcel containing the WGS84 point, if any.
pub async fn parcel_at(pool: &PgPool, lon: f64, lat: f64) -> Result<Option<Parcel>, LookupError> {
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM land.parcels
         WHERE geom_3857 && ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), 3857)
           AND ST_Intersects(geom_3857, ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), 3857))
         ORDER BY id LIMIT 1",
    )
    .bind(lon)
    .bind(lat)
    .fetch_optional(pool)
    .await?;
    match id {
        Some(id) => crate::lookup::by_id(pool, id).await,
        None => Ok(None),
    }
}

/// VN-2000 TM-3 coordinates read in the province's two zones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneGuess {
    /// EPSG code of the zone chosen.
    pub srid: i32,
    /// WGS84 longitude of the point in that zone.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Why this zone: `commune` (the point falls in a commune whose native zone it is),
    /// `inside` (in a commune, another zone's), `nearest` (in no commune; the nearest one).
    pub reason: &'static str,
}

/// The zone of VN-2000 TM-3 coordinates `x` (northing, as survey tables write it) and `y`
/// (easting): both TM-3 zones of the province (EPSG:9212, 106°15′; EPSG:5899, 107°45′) are
/// tried; the one putting the point in a commune whose own zone it is wins, then one in any
/// commune, then the one nearest to a commune. `None` when the numbers are no TM-3 metres of
/// Viet Nam.
pub async fn guess_zone(pool: &PgPool, x: f64, y: f64) -> Result<Option<ZoneGuess>, LookupError> {
    if !(800_000.0..=2_600_000.0).contains(&x) || !(100_000.0..=900_000.0).contains(&y) {
        return Ok(None);
    }
    let rows: Vec<(i32, f64, f64, Option<i32>, f64)> = sqlx::query_as(
        "WITH z(srid) AS (VALUES (9212), (5899)),
              p AS (SELECT srid, ST_Transform(ST_SetSRID(ST_MakePoint($2, $1), srid), 4326) AS g FROM z)
         SELECT p.srid, ST_X(p.g), ST_Y(p.g),
                (SELECT ST_SRID(c.geom) FROM land.communes c
                 WHERE ST_Intersects(c.geom_3857, ST_Transform(p.g, 3857)) LIMIT 1),
                coalesce((SELECT min(ST_Distance(c.geom_3857, ST_Transform(p.g, 3857))) FROM land.communes c), 1e12)
         FROM p",
    )
    .bind(x)
    .bind(y)
    .fetch_all(pool)
    .await?;
    let rank = |(srid, _, _, inside, dist): &(i32, f64, f64, Option<i32>, f64)| match inside {
        Some(native) if native == srid => (0, 0.0),
        Some(_) => (1, 0.0),
        None => (2, *dist),
    };
    let best = rows.iter().min_by(|a, b| {
        rank(a)
            .0
            .cmp(&rank(b).0)
            .then(rank(a).1.total_cmp(&rank(b).1))
    });
    Ok(best.map(|r| ZoneGuess {
        srid: r.0,
        lon: r.1,
        lat: r.2,
        reason: match rank(r).0 {
            0 => "commune",
            1 => "inside",
            _ => "nearest",
        },
    }))
}

/// The date the cadastral data is valid for: the last change of any parcel (ISO 8601 day).
pub async fn data_date<'e>(db: impl sqlx::PgExecutor<'e>) -> Result<Option<String>, LookupError> {
    Ok(
        sqlx::query_scalar("SELECT max(updated_at)::date::text FROM land.parcels")
            .fetch_one(db)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn folding_drops_accents_case_and_extra_spaces() {
        assert_eq!(super::fold("  Xã Tiến   Hưng "), "xa tien hung");
        assert_eq!(super::fold("ĐỒNG XOÀI"), "dong xoai");
        assert_eq!(super::fold("Phước"), "phuoc");
    }

    #[test]
    fn address_words_are_folded_and_split_at_punctuation() {
        assert_eq!(
            super::address_words("12/3 Phú Riềng Đỏ, P. Tân Phú"),
            ["12", "3", "phu", "rieng", "do", "p", "tan", "phu"]
        );
        assert_eq!(super::address_words("%_'"), Vec::<String>::new());
        assert_eq!(super::address_words(&"a ".repeat(50)).len(), 8);
    }

    #[test]
    fn short_words_match_whole_words_of_the_searched_form() {
        let place = super::searched_form("Số 31 đường số 4, xã Xuân An");
        assert_eq!(place, " so 31 duong so 4 xa xuan an ");
        let like = |w: &str| {
            let p = super::word_pattern(w);
            let inner = p.trim_matches('%');
            place.contains(inner)
        };
        for hit in ["31", "4", "an", "so", "xuan", "uan", "duong"] {
            assert!(like(hit), "{hit}");
        }
        for miss in ["3", "1", "a", "x", "xa4"] {
            assert!(!like(miss), "{miss}");
        }
        // Non-ASCII characters left by folding belong to their word, as in SQL.
        assert_eq!(super::searched_form("Straße – 12"), " straße – 12 ");
    }
}
