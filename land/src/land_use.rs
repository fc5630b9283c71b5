//! Land-use classification codes (mã loại đất) and the law that says which are valid when.
//!
//! A parcel's land-use entries carry a three-letter code. Two official lists matter for bando:
//!
//! | list | in force | entries |
//! |---|---|---|
//! | [`CodeList::Tt27_2018`] — Thông tư 27/2018/TT-BTNMT | until 2024-07-31 | 53 |
//! | [`CodeList::Tt08_2024`] — Thông tư 08/2024/TT-BTNMT (Luật Đất đai 2024) | from 2024-08-01 | 51 |
//!
//! A code must be valid in the list in force on the entry's effective date
//! ([`list_in_force`], [`validate`]). Codes the 2024 list dropped have a [`successor`] where the
//! new law folded the old category into exactly one new one (BHK and NHK into HNK, …).
//!
//! ```
//! use land::land_use::{validate, successor, LandUseError};
//! assert_eq!(validate(" bhk ", Some((2020, 1, 1))).unwrap().code, "BHK");
//! let err = validate("BHK", Some((2025, 1, 1))).expect_err("must be rejected");
//! assert!(matches!(err, LandUseError::NotInForce { .. }));
//! assert_eq!(successor("BHK").unwrap().code, "HNK");
//! ```
//!
//! Only leaf codes a parcel can carry are listed. Group codes (NNP, SXN, LUA, PNN, CSK, CCC,
//! CSD, …) are not land-use codes of a parcel; they appear only as [`LandUseCode::parent`].
//!
//! # Provenance
//!
//! The tables are written here from the facts (codes and official names); no source text was
//! copied. What was and was not checked:
//!
//! **TT 27/2018.** The 53 codes are exactly those listed in the project's domain notes
//! (`shared/domain.md` §2). The same codes and Vietnamese names appear in the cadastral-map symbol
//! list of TT 25/2014/TT-BTNMT as summarised by lawnet.vn and by the HCMC ward site
//! phuhuu.tpthuduc.hochiminhcity.gov.vn (LUC … SKX, DGT, DTL, DNL, DBV, DSH, DKV), which matches
//! the TT 27/2018 code set. Not verified from a source: the start date 2019-03-01 (from memory;
//! the signing date 14/12/2018 is confirmed) and the exact wording of the labels after DKV
//! (DDT, DDL, DRA, DCH, DCK, TON, TIN, NTD, SON, MNC, PNK, BCS, DCS, NCS), which are the
//! well-known names but were not seen in a source during this work. The group codes used as
//! parents (LUA, HNK, SXN, LNP, CDG, DSN, CSK, CCC) are the statistics-table groups.
//!
//! **TT 08/2024.** The text of the circular (Công báo) could not be reached; every TT 08 entry
//! rests on secondary sources: public code that quotes "Mục A, Phụ lục II, TT 08/2024" or a
//! provincial VBDLIS code dictionary, plus Luật Đất đai 2024 Điều 9 for the categories. Per entry:
//!
//! - *Corroborated by two or more independent sources* (several repositories quoting TT 08/2024
//!   and two VBDLIS dictionaries): LUC "Đất chuyên trồng lúa" and LUK "Đất trồng lúa còn lại"
//!   (the word "nước" dropped), HNK "Đất trồng cây hằng năm khác", CNT, CLN, RSX, RPH, RDD, NTS,
//!   LMU, NKH, ONT, ODT, TSC, CQP, CAN, DVH, DYT, DGD, DKH, TMD, SKC, SKS, DTT ("thể dục, thể
//!   thao"), DGT "Đất công trình giao thông", DTL "Đất công trình thủy lợi", DBV, DCH, DKV, TON,
//!   TIN, NTD (see below), SON, PNK, BCS, DCS, NCS; the removal of BHK/NHK in favour of HNK; the
//!   effective date 2024-08-01.
//! - *One source only* (a VBDLIS dictionary of the Đắk Lắk land office, dla.mplis.gov.vn, quoted
//!   in a public script), consistent with the categories of Luật 2024 Điều 9 and with the codes
//!   named in domain.md: DCT, DPC, DDD, DKT, DMT, and the new labels of DXH ("cơ sở xã hội"),
//!   DRA ("công trình xử lý chất thải"), DNL ("…, chiếu sáng công cộng") and MNC ("… dạng ao,
//!   hồ, đầm, phá"; a Hà Nội VBDLIS dictionary has the shorter TT 27 label).
//! - *Not verified*: that SKK and SKN stay separate codes (Luật 2024 names one category "đất khu
//!   công nghiệp, cụm công nghiệp", and one VBDLIS dictionary also carries a combined code SCC),
//!   and that DNG, DSK and DCK keep their TT 27 codes and labels. NTD is written with the law's
//!   wording "lưu giữ tro cốt"; both VBDLIS dictionaries say "lưu trữ tro cốt".
//! - *Dropped* (absent from every TT 08 source and with no category of its own in Luật 2024):
//!   LUN, BHK, NHK, DTS, SKT, SKX, DDT, DDL, DSH. See [`successor`] for how sure each mapping is.
//! - *Not included*: MCS "Đất có mặt nước chưa sử dụng" and RSN "trong đó: đất rừng sản xuất là
//!   rừng tự nhiên" (each seen in one dictionary only; RSN is an "of which" statistics line);
//!   amendments by TT 23/2025/TT-BNNMT (consolidated text VBHN 37, mentioned by one source; its
//!   content is unknown here).

use std::fmt;

use serde::Serialize;

use LandGroup::{Agricultural as A, NonAgricultural as N, Unused as U};

/// A calendar date as `(year, month, day)`, e.g. `(2024, 8, 1)`.
///
/// Dates compare as tuples, which is calendar order for valid dates; the value is not checked.
pub type Ymd = (i32, u32, u32);

/// One of the official land-use code lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeList {
    /// Thông tư 27/2018/TT-BTNMT, in force until 2024-07-31.
    Tt27_2018,
    /// Thông tư 08/2024/TT-BTNMT, in force from 2024-08-01.
    Tt08_2024,
}

impl CodeList {
    /// Every list, oldest first.
    pub const ALL: [CodeList; 2] = [CodeList::Tt27_2018, CodeList::Tt08_2024];

    /// First day the list is in force.
    ///
    /// TT 27/2018: 2019-03-01 (not verified from a source, see the module docs). [`list_in_force`]
    /// also applies it to earlier dates: it is the oldest list modelled here, and the TT 25/2014
    /// cadastral-map list used the same codes.
    pub const fn effective_from(self) -> Ymd {
        match self {
            CodeList::Tt27_2018 => (2019, 3, 1),
            CodeList::Tt08_2024 => (2024, 8, 1),
        }
    }

    /// Last day the list is in force, `None` while it still is.
    pub const fn effective_until(self) -> Option<Ymd> {
        match self {
            CodeList::Tt27_2018 => Some((2024, 7, 31)),
            CodeList::Tt08_2024 => None,
        }
    }

    /// Full citation, e.g. "TT 08/2024/TT-BTNMT".
    pub const fn citation(self) -> &'static str {
        match self {
            CodeList::Tt27_2018 => "TT 27/2018/TT-BTNMT",
            CodeList::Tt08_2024 => "TT 08/2024/TT-BTNMT",
        }
    }

    /// Short name, e.g. "TT 08/2024".
    pub const fn short_name(self) -> &'static str {
        match self {
            CodeList::Tt27_2018 => "TT 27/2018",
            CodeList::Tt08_2024 => "TT 08/2024",
        }
    }

    /// The entries of this list (same as [`list`]).
    pub fn entries(self) -> &'static [LandUseCode] {
        list(self)
    }
}

impl fmt::Display for CodeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.citation())
    }
}

/// The three land groups (nhóm đất) of the land law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LandGroup {
    /// Nhóm đất nông nghiệp (NNP).
    Agricultural,
    /// Nhóm đất phi nông nghiệp (PNN).
    NonAgricultural,
    /// Nhóm đất chưa sử dụng (CSD).
    Unused,
}

impl LandGroup {
    /// The group's code: NNP, PNN or CSD.
    pub const fn code(self) -> &'static str {
        match self {
            LandGroup::Agricultural => "NNP",
            LandGroup::NonAgricultural => "PNN",
            LandGroup::Unused => "CSD",
        }
    }

    /// The group's Vietnamese name.
    pub const fn name_vi(self) -> &'static str {
        match self {
            LandGroup::Agricultural => "Nhóm đất nông nghiệp",
            LandGroup::NonAgricultural => "Nhóm đất phi nông nghiệp",
            LandGroup::Unused => "Nhóm đất chưa sử dụng",
        }
    }

    /// The group's English name.
    pub const fn name_en(self) -> &'static str {
        match self {
            LandGroup::Agricultural => "Agricultural land",
            LandGroup::NonAgricultural => "Non-agricultural land",
            LandGroup::Unused => "Unused land",
        }
    }
}

/// One land-use code of one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct LandUseCode {
    /// The code, three upper-case ASCII letters.
    pub code: &'static str,
    /// Official Vietnamese name (NFC).
    pub name_vi: &'static str,
    /// English gloss (bando's own wording, not an official translation).
    pub name_en: &'static str,
    /// Land group.
    pub group: LandGroup,
    /// Sub-group code between the entry and its group (e.g. LUA for LUC, CCC for DGT), where the
    /// list has one and it is known; `None` when the entry sits directly under its group or the
    /// sub-group code was not confirmed (e.g. the residential sub-group).
    pub parent: Option<&'static str>,
}

/// Errors of [`validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LandUseError {
    /// The code is in no list considered (after trimming and upper-casing).
    #[error("{}", unknown_message(code, *list, nearest))]
    Unknown {
        /// The code as given, trimmed.
        code: String,
        /// The list that was searched, `None` when every list was.
        list: Option<CodeList>,
        /// The closest valid codes, best first (may be empty).
        nearest: Vec<&'static str>,
    },
    /// The code exists, but not in the list in force on the date.
    #[error("{}", not_in_force_message(code, *list, *date))]
    NotInForce {
        /// The code, canonical (upper case).
        code: String,
        /// The list in force on `date`.
        list: CodeList,
        /// The effective date that was checked.
        date: Ymd,
    },
}

/// The entries of `list`, in the order of the circular.
pub fn list(list: CodeList) -> &'static [LandUseCode] {
    match list {
        CodeList::Tt27_2018 => TT27_2018,
        CodeList::Tt08_2024 => TT08_2024,
    }
}

/// The list in force on `date`: TT 08/2024 from 2024-08-01, TT 27/2018 before (including dates
/// before TT 27's own start, see [`CodeList::effective_from`]).
pub fn list_in_force(date: Ymd) -> CodeList {
    if date >= CodeList::Tt08_2024.effective_from() {
        CodeList::Tt08_2024
    } else {
        CodeList::Tt27_2018
    }
}

/// Finds `code` in `list`, ignoring ASCII case and surrounding whitespace.
pub fn lookup(code: &str, list: CodeList) -> Option<&'static LandUseCode> {
    let code = code.trim();
    list.entries()
        .iter()
        .find(|entry| entry.code.eq_ignore_ascii_case(code))
}

/// Checks a land-use code (case-insensitive, trimmed).
///
/// With `effective = Some(date)` the code must be in the list in force on that date. With `None`
/// a code of either list is accepted; a code in both lists returns its TT 08/2024 entry.
pub fn validate(code: &str, effective: Option<Ymd>) -> Result<&'static LandUseCode, LandUseError> {
    let trimmed = code.trim();
    match effective {
        Some(date) => {
            let in_force = list_in_force(date);
            if let Some(entry) = lookup(trimmed, in_force) {
                return Ok(entry);
            }
            if let Some(entry) = CodeList::ALL
                .iter()
                .filter(|&&other| other != in_force)
                .find_map(|&other| lookup(trimmed, other))
            {
                return Err(LandUseError::NotInForce {
                    code: entry.code.to_owned(),
                    list: in_force,
                    date,
                });
            }
            Err(LandUseError::Unknown {
                code: trimmed.to_owned(),
                list: Some(in_force),
                nearest: nearest_codes(trimmed, &[in_force]),
            })
        }
        None => CodeList::ALL
            .iter()
            .rev()
            .find_map(|&list| lookup(trimmed, list))
            .ok_or_else(|| LandUseError::Unknown {
                code: trimmed.to_owned(),
                list: None,
                nearest: nearest_codes(trimmed, &CodeList::ALL),
            }),
    }
}

/// The TT 08/2024 code that replaced a TT 27/2018 code the 2024 list dropped.
///
/// `None` when the code is still valid, unknown, or has no single successor. Basis of each
/// mapping:
///
/// - BHK, NHK → HNK: stated (domain notes; sources quoting TT 08/2024).
/// - DDT, DDL → DDD and DSH → DKV: the new label is literally the union of the old ones.
/// - LUN → LUK: inferred; TT 08 keeps only two rice codes and upland rice is not specialised
///   rice land.
/// - SKT → SKK: inferred; an export-processing zone is a kind of industrial park.
/// - DTS and SKX: no successor; the land goes to whichever code fits its actual use (e.g. the
///   sector code of the public-service unit, or SKC / SKS).
pub fn successor(code: &str) -> Option<&'static LandUseCode> {
    let old = lookup(code, CodeList::Tt27_2018)?;
    let new = match old.code {
        "BHK" | "NHK" => "HNK",
        "DDT" | "DDL" => "DDD",
        "DSH" => "DKV",
        "LUN" => "LUK",
        "SKT" => "SKK",
        _ => return None,
    };
    lookup(new, CodeList::Tt08_2024)
}

/// Most suggestions an [`LandUseError::Unknown`] carries.
const MAX_SUGGESTIONS: usize = 5;
/// Largest edit distance (with transpositions) still suggested.
const MAX_SUGGESTION_DISTANCE: usize = 2;

/// Valid codes of `lists` close to `input`, best first: by edit distance, then by how many
/// letters they share (so a swap like "LCU" puts LUC before LMU), then alphabetically.
fn nearest_codes(input: &str, lists: &[CodeList]) -> Vec<&'static str> {
    let needle: Vec<char> = input.chars().flat_map(char::to_uppercase).collect();
    if needle.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(usize, std::cmp::Reverse<usize>, &'static str)> = Vec::new();
    for entry in lists.iter().flat_map(|list| list.entries()) {
        if scored.iter().any(|&(_, _, code)| code == entry.code) {
            continue;
        }
        let candidate: Vec<char> = entry.code.chars().collect();
        let distance = edit_distance(&needle, &candidate);
        if distance <= MAX_SUGGESTION_DISTANCE {
            let shared = shared_letters(&needle, &candidate);
            scored.push((distance, std::cmp::Reverse(shared), entry.code));
        }
    }
    scored.sort_unstable();
    scored.truncate(MAX_SUGGESTIONS);
    scored.into_iter().map(|(_, _, code)| code).collect()
}

/// Letters two strings have in common, counted with multiplicity.
fn shared_letters(a: &[char], b: &[char]) -> usize {
    let mut rest = b.to_vec();
    a.iter()
        .filter(|c| match rest.iter().position(|r| r == *c) {
            Some(i) => {
                rest.swap_remove(i);
                true
            }
            None => false,
        })
        .count()
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbours each cost 1 (so "LCU" is 1 from "LUC").
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

fn format_date((year, month, day): Ymd) -> String {
    format!("{year:04}-{month:02}-{day:02}")
}

fn unknown_message(code: &str, list: Option<CodeList>, nearest: &[&str]) -> String {
    let scope = match list {
        Some(list) => format!("a {} code", list.short_name()),
        None => "a land-use code of any list".to_owned(),
    };
    let mut message = if code.is_empty() {
        format!("empty land-use code: expected {scope}")
    } else {
        format!("unknown land-use code \"{code}\": not {scope}")
    };
    if !nearest.is_empty() {
        message.push_str("; nearest valid codes: ");
        message.push_str(&nearest.join(", "));
    }
    message
}

fn not_in_force_message(code: &str, list: CodeList, date: Ymd) -> String {
    let on = format_date(date);
    match list {
        CodeList::Tt08_2024 => {
            let since = format_date(list.effective_from());
            let name = list.short_name();
            match successor(code) {
                Some(new) => format!(
                    "{code} is not valid on {on}: {code} was replaced by {} on {since} ({name})",
                    new.code
                ),
                None => format!(
                    "{code} is not valid on {on}: {code} is not in {name}, in force since \
                     {since}; no single successor, code it by the land's actual use"
                ),
            }
        }
        CodeList::Tt27_2018 => {
            let new = CodeList::Tt08_2024;
            format!(
                "{code} is not valid on {on}: {code} was introduced by {} on {}; {} applies before",
                new.short_name(),
                format_date(new.effective_from()),
                list.short_name()
            )
        }
    }
}

const fn entry(
    code: &'static str,
    name_vi: &'static str,
    name_en: &'static str,
    group: LandGroup,
    parent: Option<&'static str>,
) -> LandUseCode {
    LandUseCode {
        code,
        name_vi,
        name_en,
        group,
        parent,
    }
}

/// TT 27/2018/TT-BTNMT: 53 codes. See the module docs for what was verified.
static TT27_2018: &[LandUseCode] = &[
    // Nhóm đất nông nghiệp
    entry(
        "LUC",
        "Đất chuyên trồng lúa nước",
        "Land specialised for wet rice",
        A,
        Some("LUA"),
    ),
    entry(
        "LUK",
        "Đất trồng lúa nước còn lại",
        "Other wet-rice land",
        A,
        Some("LUA"),
    ),
    entry(
        "LUN",
        "Đất trồng lúa nương",
        "Upland (dry) rice land",
        A,
        Some("LUA"),
    ),
    entry(
        "BHK",
        "Đất bằng trồng cây hàng năm khác",
        "Flat land for other annual crops",
        A,
        Some("HNK"),
    ),
    entry(
        "NHK",
        "Đất nương rẫy trồng cây hàng năm khác",
        "Upland swidden land for other annual crops",
        A,
        Some("HNK"),
    ),
    entry(
        "CLN",
        "Đất trồng cây lâu năm",
        "Perennial-crop land",
        A,
        Some("SXN"),
    ),
    entry(
        "RSX",
        "Đất rừng sản xuất",
        "Production forest land",
        A,
        Some("LNP"),
    ),
    entry(
        "RPH",
        "Đất rừng phòng hộ",
        "Protection forest land",
        A,
        Some("LNP"),
    ),
    entry(
        "RDD",
        "Đất rừng đặc dụng",
        "Special-use forest land",
        A,
        Some("LNP"),
    ),
    entry(
        "NTS",
        "Đất nuôi trồng thủy sản",
        "Aquaculture land",
        A,
        None,
    ),
    entry("LMU", "Đất làm muối", "Salt-making land", A, None),
    entry(
        "NKH",
        "Đất nông nghiệp khác",
        "Other agricultural land",
        A,
        None,
    ),
    // Nhóm đất phi nông nghiệp — đất ở
    entry("ODT", "Đất ở tại đô thị", "Urban residential land", N, None),
    entry(
        "ONT",
        "Đất ở tại nông thôn",
        "Rural residential land",
        N,
        None,
    ),
    // trụ sở
    entry(
        "TSC",
        "Đất xây dựng trụ sở cơ quan",
        "Land for government agency offices",
        N,
        Some("CDG"),
    ),
    entry(
        "DTS",
        "Đất xây dựng trụ sở của tổ chức sự nghiệp",
        "Land for offices of public-service organisations",
        N,
        Some("DSN"),
    ),
    // quốc phòng, an ninh
    entry(
        "CQP",
        "Đất quốc phòng",
        "National defence land",
        N,
        Some("CDG"),
    ),
    entry("CAN", "Đất an ninh", "Public security land", N, Some("CDG")),
    // công trình sự nghiệp
    entry(
        "DVH",
        "Đất xây dựng cơ sở văn hóa",
        "Land for cultural facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DXH",
        "Đất xây dựng cơ sở dịch vụ xã hội",
        "Land for social-service facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DYT",
        "Đất xây dựng cơ sở y tế",
        "Land for health-care facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DGD",
        "Đất xây dựng cơ sở giáo dục và đào tạo",
        "Land for education and training facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DTT",
        "Đất xây dựng cơ sở thể dục thể thao",
        "Land for sports facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DKH",
        "Đất xây dựng cơ sở khoa học và công nghệ",
        "Land for science and technology facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DNG",
        "Đất xây dựng cơ sở ngoại giao",
        "Land for diplomatic facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DSK",
        "Đất xây dựng công trình sự nghiệp khác",
        "Land for other public-service works",
        N,
        Some("DSN"),
    ),
    // sản xuất, kinh doanh phi nông nghiệp
    entry(
        "SKK",
        "Đất khu công nghiệp",
        "Industrial park land",
        N,
        Some("CSK"),
    ),
    entry(
        "SKT",
        "Đất khu chế xuất",
        "Export processing zone land",
        N,
        Some("CSK"),
    ),
    entry(
        "SKN",
        "Đất cụm công nghiệp",
        "Industrial cluster land",
        N,
        Some("CSK"),
    ),
    entry(
        "TMD",
        "Đất thương mại, dịch vụ",
        "Commercial and service land",
        N,
        Some("CSK"),
    ),
    entry(
        "SKC",
        "Đất cơ sở sản xuất phi nông nghiệp",
        "Land for non-agricultural production facilities",
        N,
        Some("CSK"),
    ),
    entry(
        "SKS",
        "Đất sử dụng cho hoạt động khoáng sản",
        "Land used for mineral activities",
        N,
        Some("CSK"),
    ),
    entry(
        "SKX",
        "Đất sản xuất vật liệu xây dựng, làm đồ gốm",
        "Land for building-material and pottery production",
        N,
        Some("CSK"),
    ),
    // mục đích công cộng
    entry("DGT", "Đất giao thông", "Transport land", N, Some("CCC")),
    entry("DTL", "Đất thủy lợi", "Irrigation land", N, Some("CCC")),
    entry(
        "DDT",
        "Đất có di tích lịch sử - văn hóa",
        "Historical and cultural relic land",
        N,
        Some("CCC"),
    ),
    entry(
        "DDL",
        "Đất danh lam thắng cảnh",
        "Scenic landscape land",
        N,
        Some("CCC"),
    ),
    entry(
        "DSH",
        "Đất sinh hoạt cộng đồng",
        "Community activity land",
        N,
        Some("CCC"),
    ),
    entry(
        "DKV",
        "Đất khu vui chơi, giải trí công cộng",
        "Public recreation and entertainment land",
        N,
        Some("CCC"),
    ),
    entry(
        "DNL",
        "Đất công trình năng lượng",
        "Energy works land",
        N,
        Some("CCC"),
    ),
    entry(
        "DBV",
        "Đất công trình bưu chính, viễn thông",
        "Postal and telecommunications works land",
        N,
        Some("CCC"),
    ),
    entry(
        "DRA",
        "Đất bãi thải, xử lý chất thải",
        "Waste dump and treatment land",
        N,
        Some("CCC"),
    ),
    entry("DCH", "Đất chợ", "Market land", N, Some("CCC")),
    entry(
        "DCK",
        "Đất công trình công cộng khác",
        "Other public works land",
        N,
        Some("CCC"),
    ),
    // khác
    entry(
        "TON",
        "Đất cơ sở tôn giáo",
        "Religious establishment land",
        N,
        None,
    ),
    entry(
        "TIN",
        "Đất cơ sở tín ngưỡng",
        "Folk-worship establishment land",
        N,
        None,
    ),
    entry(
        "NTD",
        "Đất làm nghĩa trang, nghĩa địa, nhà tang lễ, nhà hỏa táng",
        "Cemetery, graveyard, funeral home and crematorium land",
        N,
        None,
    ),
    entry(
        "SON",
        "Đất sông, ngòi, kênh, rạch, suối",
        "Rivers, canals, creeks and streams",
        N,
        None,
    ),
    entry(
        "MNC",
        "Đất có mặt nước chuyên dùng",
        "Special-use water surface land",
        N,
        None,
    ),
    entry(
        "PNK",
        "Đất phi nông nghiệp khác",
        "Other non-agricultural land",
        N,
        None,
    ),
    // Nhóm đất chưa sử dụng
    entry("BCS", "Đất bằng chưa sử dụng", "Unused flat land", U, None),
    entry(
        "DCS",
        "Đất đồi núi chưa sử dụng",
        "Unused hill and mountain land",
        U,
        None,
    ),
    entry(
        "NCS",
        "Núi đá không có rừng cây",
        "Rocky mountain without forest",
        U,
        None,
    ),
];

/// TT 08/2024/TT-BTNMT: 51 codes. Every entry rests on secondary sources; see the module docs
/// for which entries are corroborated, single-sourced or unverified.
static TT08_2024: &[LandUseCode] = &[
    // Nhóm đất nông nghiệp
    entry(
        "LUC",
        "Đất chuyên trồng lúa",
        "Land specialised for rice",
        A,
        Some("LUA"),
    ),
    entry(
        "LUK",
        "Đất trồng lúa còn lại",
        "Other rice land",
        A,
        Some("LUA"),
    ),
    entry(
        "HNK",
        "Đất trồng cây hằng năm khác",
        "Land for other annual crops",
        A,
        Some("CHN"),
    ),
    entry(
        "CLN",
        "Đất trồng cây lâu năm",
        "Perennial-crop land",
        A,
        None,
    ),
    entry(
        "RDD",
        "Đất rừng đặc dụng",
        "Special-use forest land",
        A,
        Some("LNP"),
    ),
    entry(
        "RPH",
        "Đất rừng phòng hộ",
        "Protection forest land",
        A,
        Some("LNP"),
    ),
    entry(
        "RSX",
        "Đất rừng sản xuất",
        "Production forest land",
        A,
        Some("LNP"),
    ),
    entry(
        "NTS",
        "Đất nuôi trồng thủy sản",
        "Aquaculture land",
        A,
        None,
    ),
    entry(
        "CNT",
        "Đất chăn nuôi tập trung",
        "Concentrated livestock farming land",
        A,
        None,
    ),
    entry("LMU", "Đất làm muối", "Salt-making land", A, None),
    entry(
        "NKH",
        "Đất nông nghiệp khác",
        "Other agricultural land",
        A,
        None,
    ),
    // Nhóm đất phi nông nghiệp — đất ở
    entry(
        "ONT",
        "Đất ở tại nông thôn",
        "Rural residential land",
        N,
        None,
    ),
    entry("ODT", "Đất ở tại đô thị", "Urban residential land", N, None),
    // trụ sở cơ quan
    entry(
        "TSC",
        "Đất xây dựng trụ sở cơ quan",
        "Land for government agency offices",
        N,
        None,
    ),
    // quốc phòng, an ninh
    entry(
        "CQP",
        "Đất quốc phòng",
        "National defence land",
        N,
        Some("CQA"),
    ),
    entry("CAN", "Đất an ninh", "Public security land", N, Some("CQA")),
    // công trình sự nghiệp
    entry(
        "DVH",
        "Đất xây dựng cơ sở văn hóa",
        "Land for cultural facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DXH",
        "Đất xây dựng cơ sở xã hội",
        "Land for social facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DYT",
        "Đất xây dựng cơ sở y tế",
        "Land for health-care facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DGD",
        "Đất xây dựng cơ sở giáo dục và đào tạo",
        "Land for education and training facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DTT",
        "Đất xây dựng cơ sở thể dục, thể thao",
        "Land for sports facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DKH",
        "Đất xây dựng cơ sở khoa học và công nghệ",
        "Land for science and technology facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DMT",
        "Đất xây dựng cơ sở môi trường",
        "Land for environmental facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DKT",
        "Đất xây dựng cơ sở khí tượng thủy văn",
        "Land for hydro-meteorological facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DNG",
        "Đất xây dựng cơ sở ngoại giao",
        "Land for diplomatic facilities",
        N,
        Some("DSN"),
    ),
    entry(
        "DSK",
        "Đất xây dựng công trình sự nghiệp khác",
        "Land for other public-service works",
        N,
        Some("DSN"),
    ),
    // sản xuất, kinh doanh phi nông nghiệp
    entry(
        "SKK",
        "Đất khu công nghiệp",
        "Industrial park land",
        N,
        Some("CSK"),
    ),
    entry(
        "SKN",
        "Đất cụm công nghiệp",
        "Industrial cluster land",
        N,
        Some("CSK"),
    ),
    entry(
        "TMD",
        "Đất thương mại, dịch vụ",
        "Commercial and service land",
        N,
        Some("CSK"),
    ),
    entry(
        "SKC",
        "Đất cơ sở sản xuất phi nông nghiệp",
        "Land for non-agricultural production facilities",
        N,
        Some("CSK"),
    ),
    entry(
        "SKS",
        "Đất sử dụng cho hoạt động khoáng sản",
        "Land used for mineral activities",
        N,
        Some("CSK"),
    ),
    // mục đích công cộng
    entry(
        "DGT",
        "Đất công trình giao thông",
        "Transport works land",
        N,
        Some("CCC"),
    ),
    entry(
        "DTL",
        "Đất công trình thủy lợi",
        "Irrigation works land",
        N,
        Some("CCC"),
    ),
    entry(
        "DCT",
        "Đất công trình cấp nước, thoát nước",
        "Water supply and drainage works land",
        N,
        Some("CCC"),
    ),
    entry(
        "DPC",
        "Đất công trình phòng, chống thiên tai",
        "Natural-disaster prevention works land",
        N,
        Some("CCC"),
    ),
    entry(
        "DDD",
        "Đất có di tích lịch sử - văn hóa, danh lam thắng cảnh, di sản thiên nhiên",
        "Historical and cultural relic, scenic landscape and natural heritage land",
        N,
        Some("CCC"),
    ),
    entry(
        "DRA",
        "Đất công trình xử lý chất thải",
        "Waste treatment works land",
        N,
        Some("CCC"),
    ),
    entry(
        "DNL",
        "Đất công trình năng lượng, chiếu sáng công cộng",
        "Energy and public lighting works land",
        N,
        Some("CCC"),
    ),
    entry(
        "DBV",
        "Đất công trình hạ tầng bưu chính, viễn thông, công nghệ thông tin",
        "Postal, telecommunications and information-technology infrastructure land",
        N,
        Some("CCC"),
    ),
    entry(
        "DCH",
        "Đất chợ dân sinh, chợ đầu mối",
        "Local market and wholesale market land",
        N,
        Some("CCC"),
    ),
    entry(
        "DKV",
        "Đất khu vui chơi, giải trí công cộng, sinh hoạt cộng đồng",
        "Public recreation, entertainment and community activity land",
        N,
        Some("CCC"),
    ),
    entry(
        "DCK",
        "Đất công trình công cộng khác",
        "Other public works land",
        N,
        Some("CCC"),
    ),
    // khác
    entry(
        "TON",
        "Đất cơ sở tôn giáo",
        "Religious establishment land",
        N,
        None,
    ),
    entry(
        "TIN",
        "Đất cơ sở tín ngưỡng",
        "Folk-worship establishment land",
        N,
        None,
    ),
    entry(
        "NTD",
        "Đất nghĩa trang, nhà tang lễ, cơ sở hỏa táng; đất cơ sở lưu giữ tro cốt",
        "Cemetery, funeral home and crematorium land; land for ash-keeping facilities",
        N,
        None,
    ),
    entry(
        "SON",
        "Đất có mặt nước dạng sông, ngòi, kênh, rạch, suối",
        "Water surface land: rivers, canals, creeks and streams",
        N,
        None,
    ),
    entry(
        "MNC",
        "Đất có mặt nước chuyên dùng dạng ao, hồ, đầm, phá",
        "Special-use water surface land: ponds, lakes, marshes and lagoons",
        N,
        None,
    ),
    entry(
        "PNK",
        "Đất phi nông nghiệp khác",
        "Other non-agricultural land",
        N,
        None,
    ),
    // Nhóm đất chưa sử dụng
    entry("BCS", "Đất bằng chưa sử dụng", "Unused flat land", U, None),
    entry(
        "DCS",
        "Đất đồi núi chưa sử dụng",
        "Unused hill and mountain land",
        U,
        None,
    ),
    entry(
        "NCS",
        "Núi đá không có rừng cây",
        "Rocky mountain without forest",
        U,
        None,
    ),
];

/// Map colour (CSS `#rrggbb`) of a land-use code, as land-use maps (bản đồ hiện trạng / quy hoạch
/// sử dụng đất) tint it, for every code of either list and the group codes; `None` for unknown
/// codes. Input is trimmed and case-insensitive like [`lookup`].
///
/// The tints follow the colour table of the land-use map standard (TT 25/2014/TT-BTNMT and its
/// successors, as used by provincial land-use map services): rice light yellow, other annual
/// crops pale yellow, perennial crops salmon, forests greens, water and irrigation cyan,
/// residential pinks, public and service land pinkish-red, defence and security red, transport
/// orange, cemeteries grey. Checked against one public GIS configuration that carries the
/// standard's RGB values; not from the circular's own text. Deliberate departures: unused land
/// (BCS, DCS), which the standard leaves white with a hatch pattern, is light grey here so it is
/// visible on a white background without patterns, and salt-making land (LMU) is a pale
/// blue-grey. Codes new in TT 08/2024 take the tint of the category they came from (DDD of DDT,
/// DCT/DPC/DKT/DMT of public works, CNT of other agricultural land).
pub fn map_colour(code: &str) -> Option<&'static str> {
    let code = code.trim().to_ascii_uppercase();
    MAP_COLOURS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, colour)| *colour)
}

/// Every land-use code with a map colour, for building a style's `match` expression.
pub fn map_colours() -> &'static [(&'static str, &'static str)] {
    MAP_COLOURS
}

/// The MapLibre expression colouring features by the land-use code in `property`:
/// `["match", code, [codes…], colour, …, fallback]`, one arm per colour.
pub fn colour_expression(property: &str, fallback: &str) -> serde_json::Value {
    use serde_json::json;
    let mut by_colour: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (code, colour) in map_colours() {
        by_colour.entry(colour).or_default().push(code);
    }
    let mut expr = vec![
        json!("match"),
        json!(["upcase", ["to-string", ["get", property]]]),
    ];
    for (colour, codes) in by_colour {
        expr.push(json!(codes));
        expr.push(json!(colour));
    }
    expr.push(json!(fallback));
    serde_json::Value::Array(expr)
}

/// Code → colour. Public and service land share one tint on these maps; the table keeps one
/// row per code so a style can match on the exact code a parcel carries.
static MAP_COLOURS: &[(&str, &str)] = &[
    // Agricultural group
    ("NNP", "#ffff64"),
    ("SXN", "#fffc6e"),
    ("CHN", "#fffc78"),
    ("LUA", "#fffc82"),
    ("LUC", "#fffc8c"),
    ("LUK", "#fffc96"),
    ("LUN", "#fffcb4"),
    ("HNK", "#fff0b4"),
    ("BHK", "#fff0b4"),
    ("NHK", "#fff0b4"),
    ("CLN", "#ffd2a0"),
    ("LNP", "#aaff32"),
    ("RSX", "#b4ffb4"),
    ("RPH", "#beff1e"),
    ("RDD", "#6eff64"),
    ("NTS", "#aaffff"),
    ("LMU", "#d7e6f0"),
    ("NKH", "#f5ffb4"),
    ("CNT", "#f5ffb4"),
    // Non-agricultural group: residential
    ("PNN", "#ffa0aa"),
    ("OCT", "#ffb4ff"),
    ("ODT", "#ffa0ff"),
    ("ONT", "#ffd0ff"),
    // offices, defence, security
    ("CDG", "#ffa0aa"),
    ("TSC", "#ffaaa0"),
    ("DTS", "#faaaa0"),
    ("CQA", "#ff6450"),
    ("CQP", "#ff6450"),
    ("CAN", "#ff5046"),
    // public-service facilities
    ("DSN", "#ffa0aa"),
    ("DVH", "#ffaaa0"),
    ("DXH", "#ffaaa0"),
    ("DYT", "#ffaaa0"),
    ("DGD", "#ffaaa0"),
    ("DTT", "#ffaaa0"),
    ("DKH", "#ffaaa0"),
    ("DMT", "#ffaaa0"),
    ("DKT", "#ffaaa0"),
    ("DNG", "#ffaaa0"),
    ("DSK", "#ffaaa0"),
    // production and business
    ("CSK", "#ffa0aa"),
    ("SKK", "#faaaa0"),
    ("SKN", "#faaaa0"),
    ("SKT", "#faaaa0"),
    ("TMD", "#faaaa0"),
    ("SKC", "#faaaa0"),
    ("SKS", "#cdaacd"),
    ("SKX", "#cdaacd"),
    // public works
    ("CCC", "#ffaaa0"),
    ("DGT", "#ffaa32"),
    ("DTL", "#aaffff"),
    ("DCT", "#aaffff"),
    ("DPC", "#ffaaa0"),
    ("DDT", "#ffaaa0"),
    ("DDL", "#ffaaa0"),
    ("DDD", "#ffaaa0"),
    ("DSH", "#ffaaa0"),
    ("DKV", "#ffaaa0"),
    ("DNL", "#ffaaa0"),
    ("DBV", "#ffaaa0"),
    ("DCH", "#ffaaa0"),
    ("DRA", "#cdaacd"),
    ("DCK", "#ffaaa0"),
    // religion, cemeteries, water, other
    ("TON", "#faaaa0"),
    ("TIN", "#ffaaa0"),
    ("NTD", "#d2d2d2"),
    ("SON", "#a0ffff"),
    ("MNC", "#a0ffff"),
    ("PNK", "#ffaaa0"),
    // Unused group
    ("CSD", "#e6e6e6"),
    ("BCS", "#e6e6e6"),
    ("DCS", "#dcdcdc"),
    ("NCS", "#e6e6c8"),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use unicode_normalization::is_nfc;

    use super::*;

    /// The TT 27/2018 codes as domain.md §2 names them.
    const DOMAIN_TT27: &str = "LUC LUK LUN BHK NHK CLN RSX RPH RDD NTS LMU NKH ODT ONT TSC DTS \
        CQP CAN DVH DXH DYT DGD DTT DKH DNG DSK SKK SKT SKN TMD SKC SKS SKX DGT DTL DDT DDL DSH \
        DKV DNL DBV DRA DCH DCK TON TIN NTD SON MNC PNK BCS DCS NCS";

    /// TT 27 codes TT 08/2024 dropped.
    const DROPPED: &[&str] = &[
        "LUN", "BHK", "NHK", "DTS", "SKT", "SKX", "DDT", "DDL", "DSH",
    ];
    /// TT 08/2024 codes TT 27 did not have.
    const ADDED: &[&str] = &["HNK", "CNT", "DMT", "DKT", "DCT", "DPC", "DDD"];

    fn codes(list: CodeList) -> Vec<&'static str> {
        list.entries().iter().map(|e| e.code).collect()
    }

    fn not_in_force(result: Result<&'static LandUseCode, LandUseError>) -> LandUseError {
        match result {
            Err(err @ LandUseError::NotInForce { .. }) => err,
            other => panic!("expected NotInForce, got {other:?}"),
        }
    }

    #[test]
    fn land_use_every_code_of_both_lists_has_a_map_colour() {
        for list in CodeList::ALL {
            for e in list.entries() {
                let colour = map_colour(e.code)
                    .unwrap_or_else(|| panic!("{list} {} has no map colour", e.code));
                assert!(
                    colour.len() == 7
                        && colour.starts_with('#')
                        && colour[1..].bytes().all(|b| b.is_ascii_hexdigit()),
                    "{}: {colour}",
                    e.code
                );
                if let Some(parent) = e.parent {
                    assert!(map_colour(parent).is_some(), "group {parent}");
                }
            }
        }
        assert_eq!(map_colour(" odt "), map_colour("ODT"));
        assert!(map_colour("XYZ").is_none());
        let codes: HashSet<_> = map_colours().iter().map(|(c, _)| *c).collect();
        assert_eq!(codes.len(), map_colours().len(), "duplicate code");
        // The families the maps are read by: residential pink, rice yellow, forest green,
        // water cyan, transport orange.
        let rgb = |code: &str| {
            let hex = map_colour(code).expect("colour");
            let n = u32::from_str_radix(&hex[1..], 16).expect("hex");
            ((n >> 16) & 255, (n >> 8) & 255, n & 255)
        };
        let (r, g, b) = rgb("ODT");
        assert!(r > 200 && b > 200 && g < 200, "ODT pink");
        let (r, g, b) = rgb("LUC");
        assert!(r > 200 && g > 200 && b < 160, "LUC yellow");
        for code in ["RSX", "RPH", "RDD"] {
            let (r, g, b) = rgb(code);
            assert!(g == 255 && r < 200 && b < 200, "{code} green");
        }
        for code in ["SON", "MNC", "DTL", "NTS"] {
            let (r, g, b) = rgb(code);
            assert!(g > 240 && b > 240 && r < 200, "{code} cyan");
        }
        let (r, g, b) = rgb("DGT");
        assert!(r == 255 && g > 120 && b < 100, "DGT orange");
    }

    #[test]
    fn land_use_tt27_has_exactly_the_53_codes_of_the_domain_notes() {
        let listed = codes(CodeList::Tt27_2018);
        let expected: Vec<&str> = DOMAIN_TT27.split_whitespace().collect();
        assert_eq!(listed.len(), 53);
        assert_eq!(expected.len(), 53);
        assert_eq!(listed, expected, "same codes, same order as domain.md");
    }

    #[test]
    fn land_use_tt08_is_tt27_minus_dropped_plus_added() {
        let tt08: HashSet<_> = codes(CodeList::Tt08_2024).into_iter().collect();
        let mut expected: HashSet<_> = codes(CodeList::Tt27_2018).into_iter().collect();
        for code in DROPPED {
            assert!(expected.remove(code), "{code} is a TT 27 code");
        }
        for code in ADDED {
            assert!(expected.insert(code), "{code} is new in TT 08");
        }
        assert_eq!(tt08, expected);
        assert_eq!(list(CodeList::Tt08_2024).len(), 51);
    }

    #[test]
    fn land_use_lists_have_no_duplicates_and_well_formed_entries() {
        for list in CodeList::ALL {
            let mut seen = HashSet::new();
            for e in list.entries() {
                assert!(seen.insert(e.code), "{list}: duplicate {}", e.code);
                assert!(
                    e.code.len() == 3 && e.code.bytes().all(|b| b.is_ascii_uppercase()),
                    "{list}: bad code {:?}",
                    e.code
                );
                for text in [e.name_vi, e.name_en] {
                    assert!(!text.is_empty(), "{list} {}: empty name", e.code);
                    assert_eq!(text, text.trim(), "{list} {}: padded name", e.code);
                    assert!(!text.contains("  "), "{list} {}: double space", e.code);
                }
                assert!(
                    e.name_vi.starts_with("Đất") || e.code == "NCS",
                    "{}",
                    e.code
                );
                assert!(e.name_en.is_ascii(), "{list} {}: English gloss", e.code);
                if let Some(parent) = e.parent {
                    assert!(lookup(parent, list).is_none(), "{parent} is a group code");
                }
            }
        }
    }

    #[test]
    fn land_use_every_string_is_nfc() {
        let group_names = [
            LandGroup::Agricultural,
            LandGroup::NonAgricultural,
            LandGroup::Unused,
        ]
        .map(LandGroup::name_vi);
        for list in CodeList::ALL {
            for e in list.entries() {
                assert!(
                    is_nfc(e.name_vi),
                    "{list} {}: {:?} is not NFC",
                    e.code,
                    e.name_vi
                );
                assert!(is_nfc(e.name_en), "{list} {}", e.code);
            }
        }
        for name in group_names {
            assert!(is_nfc(name), "{name:?}");
        }
    }

    #[test]
    fn land_use_groups_are_consistent_across_lists() {
        for new in CodeList::Tt08_2024.entries() {
            if let Some(old) = lookup(new.code, CodeList::Tt27_2018) {
                assert_eq!(old.group, new.group, "{}", new.code);
            }
        }
        let count = |list: CodeList, group: LandGroup| {
            list.entries().iter().filter(|e| e.group == group).count()
        };
        assert_eq!(count(CodeList::Tt27_2018, LandGroup::Agricultural), 12);
        assert_eq!(count(CodeList::Tt27_2018, LandGroup::NonAgricultural), 38);
        assert_eq!(count(CodeList::Tt27_2018, LandGroup::Unused), 3);
        assert_eq!(count(CodeList::Tt08_2024, LandGroup::Agricultural), 11);
        assert_eq!(count(CodeList::Tt08_2024, LandGroup::NonAgricultural), 37);
        assert_eq!(count(CodeList::Tt08_2024, LandGroup::Unused), 3);
    }

    #[test]
    fn land_use_list_in_force_switches_on_2024_08_01() {
        assert_eq!(list_in_force((2010, 1, 1)), CodeList::Tt27_2018);
        assert_eq!(list_in_force((2020, 1, 1)), CodeList::Tt27_2018);
        assert_eq!(list_in_force((2024, 7, 31)), CodeList::Tt27_2018);
        assert_eq!(list_in_force((2024, 8, 1)), CodeList::Tt08_2024);
        assert_eq!(list_in_force((2025, 7, 1)), CodeList::Tt08_2024);
        for list in CodeList::ALL {
            assert_eq!(list_in_force(list.effective_from()), list);
            if let Some(until) = list.effective_until() {
                assert_eq!(list_in_force(until), list);
            }
        }
    }

    #[test]
    fn land_use_bhk_valid_in_2020_and_replaced_by_hnk_in_2025() {
        let bhk = validate("BHK", Some((2020, 1, 1))).expect("BHK is a TT 27 code");
        assert_eq!(bhk.name_vi, "Đất bằng trồng cây hàng năm khác");
        assert!(
            validate("BHK", Some((2024, 7, 31))).is_ok(),
            "last TT 27 day"
        );

        let err = not_in_force(validate("BHK", Some((2025, 1, 1))));
        assert_eq!(
            err,
            LandUseError::NotInForce {
                code: "BHK".into(),
                list: CodeList::Tt08_2024,
                date: (2025, 1, 1),
            }
        );
        let message = err.to_string();
        assert!(
            message.contains("BHK was replaced by HNK on 2024-08-01 (TT 08/2024)"),
            "{message}"
        );
        assert!(message.contains("2025-01-01"), "{message}");
        assert_eq!(successor("BHK").map(|e| e.code), Some("HNK"));
        assert_eq!(successor("nhk").map(|e| e.code), Some("HNK"));
    }

    #[test]
    fn land_use_hnk_is_not_a_code_before_2024_08_01() {
        assert!(lookup("HNK", CodeList::Tt27_2018).is_none());
        let err = not_in_force(validate("HNK", Some((2024, 7, 31))));
        let message = err.to_string();
        assert!(
            message.contains("introduced by TT 08/2024 on 2024-08-01"),
            "{message}"
        );
        assert!(validate("HNK", Some((2020, 1, 1))).is_err());
        let hnk = validate("HNK", Some((2024, 8, 1))).expect("first TT 08 day");
        assert_eq!(hnk.name_vi, "Đất trồng cây hằng năm khác");
        assert_eq!(hnk.group, LandGroup::Agricultural);
    }

    #[test]
    fn land_use_input_is_trimmed_and_case_insensitive() {
        assert_eq!(
            validate(" bhk\t", Some((2020, 1, 1))).map(|e| e.code),
            Ok("BHK")
        );
        assert_eq!(
            validate("oDt\n", Some((2025, 1, 1))).map(|e| e.code),
            Ok("ODT")
        );
        assert_eq!(
            lookup("  luc ", CodeList::Tt08_2024).map(|e| e.code),
            Some("LUC")
        );
        assert_eq!(validate("\u{a0}cnt", None).map(|e| e.code), Ok("CNT"));
        let err = not_in_force(validate(" dtS ", Some((2025, 1, 1))));
        assert!(matches!(&err, LandUseError::NotInForce { code, .. } if code == "DTS"));
    }

    #[test]
    fn land_use_without_a_date_either_list_is_accepted() {
        assert_eq!(validate("BHK", None).map(|e| e.code), Ok("BHK"));
        assert_eq!(validate("CNT", None).map(|e| e.code), Ok("CNT"));
        let luc = validate("LUC", None).expect("in both lists");
        assert_eq!(
            luc.name_vi, "Đất chuyên trồng lúa",
            "the current entry wins"
        );
    }

    #[test]
    fn land_use_unknown_code_names_close_codes() {
        match validate("BHX", Some((2020, 1, 1))) {
            Err(LandUseError::Unknown {
                code,
                list,
                nearest,
            }) => {
                assert_eq!(code, "BHX");
                assert_eq!(list, Some(CodeList::Tt27_2018));
                assert_eq!(nearest.first(), Some(&"BHK"));
                assert!(nearest.len() <= MAX_SUGGESTIONS);
            }
            other => panic!("expected Unknown, got {other:?}"),
        }
        let message = validate("lcu", None)
            .expect_err("must be rejected")
            .to_string();
        assert!(message.contains("nearest valid codes: LUC"), "{message}");
        let message = validate("ODX", Some((2025, 1, 1)))
            .expect_err("must be rejected")
            .to_string();
        assert!(
            message.starts_with("unknown land-use code \"ODX\""),
            "{message}"
        );
        assert!(message.contains("ODT"), "{message}");
        // Suggestions come from the list in force only.
        let message = validate("BHJ", Some((2025, 1, 1)))
            .expect_err("must be rejected")
            .to_string();
        assert!(!message.contains("BHK"), "{message}");
    }

    #[test]
    fn land_use_unknown_without_close_codes_or_empty() {
        match validate("Q7Z9W", None) {
            Err(LandUseError::Unknown { nearest, .. }) => assert!(nearest.is_empty()),
            other => panic!("expected Unknown, got {other:?}"),
        }
        let message = validate("   ", None)
            .expect_err("must be rejected")
            .to_string();
        assert!(message.starts_with("empty land-use code"), "{message}");
        // A group code is not a parcel's land-use code.
        assert!(validate("NNP", None).is_err());
    }

    #[test]
    fn land_use_successors_point_into_tt08_and_cover_only_dropped_codes() {
        for old in CodeList::Tt27_2018.entries() {
            let dropped = lookup(old.code, CodeList::Tt08_2024).is_none();
            assert_eq!(dropped, DROPPED.contains(&old.code), "{}", old.code);
            match successor(old.code) {
                Some(new) => {
                    assert!(dropped, "{} is still valid", old.code);
                    assert!(std::ptr::eq(
                        new,
                        lookup(new.code, CodeList::Tt08_2024).expect("in TT 08")
                    ));
                    assert_eq!(new.group, old.group, "{} → {}", old.code, new.code);
                }
                None => assert!(
                    !dropped || ["DTS", "SKX"].contains(&old.code),
                    "{} needs a successor",
                    old.code
                ),
            }
        }
        assert_eq!(successor("DDL").map(|e| e.code), Some("DDD"));
        assert_eq!(successor("DSH").map(|e| e.code), Some("DKV"));
        assert!(successor("HNK").is_none() && successor("XYZ").is_none());
        let message = validate("SKX", Some((2025, 1, 1)))
            .expect_err("must be rejected")
            .to_string();
        assert!(message.contains("no single successor"), "{message}");
    }

    #[test]
    fn land_use_edit_distance_counts_swaps_once() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&chars("LUC"), &chars("LUC")), 0);
        assert_eq!(edit_distance(&chars("LCU"), &chars("LUC")), 1);
        assert_eq!(edit_distance(&chars("LU"), &chars("LUC")), 1);
        assert_eq!(edit_distance(&chars(""), &chars("LUC")), 3);
        assert_eq!(edit_distance(&chars("ABC"), &chars("XYZ")), 3);
        assert_eq!(shared_letters(&chars("LCU"), &chars("LUC")), 3);
        assert_eq!(shared_letters(&chars("LCU"), &chars("LMU")), 2);
        assert_eq!(shared_letters(&chars("DDA"), &chars("DAD")), 3);
        assert_eq!(shared_letters(&chars("DDD"), &chars("DAB")), 1);
    }

    #[test]
    fn land_use_code_lists_describe_themselves() {
        assert_eq!(CodeList::Tt27_2018.to_string(), "TT 27/2018/TT-BTNMT");
        assert_eq!(CodeList::Tt08_2024.short_name(), "TT 08/2024");
        assert_eq!(CodeList::Tt08_2024.effective_until(), None);
        assert_eq!(LandGroup::Unused.code(), "CSD");
        assert_eq!(
            LandGroup::NonAgricultural.name_en(),
            "Non-agricultural land"
        );
    }
}
