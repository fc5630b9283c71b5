//! Legacy Vietnamese text encodings found in old shapefile DBFs, decoded to NFC Unicode.
//!
//! Shapefiles made in Vietnam before Unicode became common (MapInfo / ArcView era,
//! roughly 1995–2010) store attribute text in one of a handful of single-byte
//! "font encodings", and the DBF header almost never says which. GDAL then reads
//! the bytes as Latin-1 (or CP1252) and shows mojibake: "Bình Phước" comes out as
//! `B×nh Ph\u{AD}íc` (TCVN3; ư is byte 0xAD, an invisible soft hyphen in Latin-1) or
//! `Bình Phöôùc` (VNI-Windows). This module owns turning
//! those bytes back into correct, NFC-normalised Vietnamese:
//!
//! * [`LegacyEncoding`] — the supported encodings and their decoders
//!   (UTF-8, Latin-1, TCVN3/ABC, VNI-Windows, Windows-1258);
//! * [`encode_tcvn3`], [`encode_tcvn3_lossy`], [`encode_vni`] — encoders, used by
//!   tests and by the `sample` crate to produce realistic legacy files;
//! * [`detect`] — guesses the encoding of one field from many raw values by
//!   checking which decoding yields well-formed Vietnamese syllables;
//! * [`is_vietnamese_syllable`] and [`tcvn3_restore_case`] — the helpers behind it.
//!
//! # Decisions
//!
//! **TCVN3.** TCVN 5712:1993 defines three repertoires. The one the ".VnTime" fonts
//! (and therefore nearly all legacy data) use is *VN3*: lower-case toned letters at
//! `0xA8..=0xFE` plus the seven capitals `Ă Â Ê Ô Ơ Ư Đ` at `0xA1..=0xA7`. Toned
//! capitals were typed with the *same* codes in the ".VnTimeH" fonts, so case is lost
//! in the bytes; [`tcvn3_restore_case`] offers a heuristic to get it back.
//! glibc's `TCVN5712-1` implements the full *VN1* repertoire, which also puts toned
//! capitals in `0x80..=0x9F`, in a few slots of `0xAF..=0xFF` that VN3 leaves unused,
//! and five combining tone marks at `0xB0..=0xB4`. For `0x80..=0xFF` this decoder follows
//! glibc exactly (harmless for VN3 data, and it makes glibc a byte-for-byte oracle).
//! glibc *also* maps the C0 control slots `0x01 0x02 0x04 0x05 0x06 0x11..=0x17` to
//! `Ú Ụ Ừ Ử Ữ Ứ Ự Ỳ Ỷ Ỹ Ý Ỵ`; **this decoder does not**: `0x00..=0x7F` is plain ASCII.
//! VN3 fonts never used those slots, DBF text never legitimately contains control
//! bytes, and keeping ASCII transparent means pure-ASCII values decode the same in
//! every encoding (which [`detect`] relies on). The encoders only write VN3 codes:
//! [`encode_tcvn3`] rejects toned capitals, [`encode_tcvn3_lossy`] lower-cases them.
//!
//! **VNI-Windows.** A letter is an ASCII base followed by at most two mark bytes
//! (`ö`/`ô`/`ñ` are the single-byte letters ư/ơ/đ, and i-with-tone plus ỵ also have
//! single-byte codes). The decoder maps every byte to a base letter or to Unicode
//! combining marks and NFC-normalises; it never fails (a stray mark byte becomes a
//! combining mark). Mark bytes are accepted in either case, whatever the base's case.
//!
//! **Windows-1258.** Decoded with its code page table; the five undefined bytes are an
//! error. Combining tone marks are composed by NFC.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use unicode_normalization::UnicodeNormalization;

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// A text encoding that legacy Vietnamese DBF attribute values may be stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LegacyEncoding {
    /// UTF-8 (passthrough, NFC-normalised).
    Utf8,
    /// ISO-8859-1: every byte is the code point of the same value.
    Latin1,
    /// TCVN 5712:1993 "ABC" (VN3), as used by the .VnTime fonts.
    Tcvn3,
    /// VNI-Windows (VNI-Times fonts): ASCII base letter + separate mark bytes.
    Vni,
    /// Windows-1258 (Microsoft's Vietnamese code page, with combining tone marks).
    Cp1258,
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input is not valid UTF-8.
    #[error("invalid UTF-8 at byte offset {offset} (byte 0x{byte:02X})")]
    InvalidUtf8 {
        /// Offset of the first byte of the invalid or truncated sequence.
        offset: usize,
        /// The byte at that offset.
        byte: u8,
    },
    /// The byte has no meaning in the encoding (only Windows-1258 has such bytes).
    #[error("byte 0x{byte:02X} at byte offset {offset} is not defined in {encoding}")]
    Unmapped {
        /// Name of the encoding, as [`LegacyEncoding::name`].
        encoding: &'static str,
        /// Offset of the byte in the input.
        offset: usize,
        /// The byte.
        byte: u8,
    },
}

/// Why text could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The character has no representation in the target encoding.
    #[error(
        "character {ch:?} (U+{code:04X}) at character index {index} cannot be encoded in {encoding}",
        code = u32::from(*ch)
    )]
    Unencodable {
        /// Name of the target encoding.
        encoding: &'static str,
        /// The character.
        ch: char,
        /// Index of the character in the NFC-normalised input, counted in chars.
        index: usize,
    },
    /// A toned capital: TCVN3 (VN3) only has codes for the capitals Ă Â Ê Ô Ơ Ư Đ.
    #[error(
        "capital {ch:?} at character index {index} has no TCVN3 code (TCVN3 only has the capitals \
         Ă Â Ê Ô Ơ Ư Đ); use encode_tcvn3_lossy to write it in lower case"
    )]
    Tcvn3Capital {
        /// The character.
        ch: char,
        /// Index of the character in the NFC-normalised input, counted in chars.
        index: usize,
    },
}

/// Error from parsing a [`LegacyEncoding`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown text encoding {input:?}; accepted values are: utf8, utf-8, latin1, latin-1, \
     iso-8859-1, tcvn3, tcvn, abc, vni, vni-windows, cp1258, windows-1258"
)]
pub struct ParseEncodingError {
    /// The string that was not recognised.
    pub input: String,
}

/// Result of [`detect`].
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The most plausible encoding.
    pub encoding: LegacyEncoding,
    /// How sure the guess is, in `0.0..=1.0`.
    pub confidence: f32,
    /// The first sample decoded with `encoding` (for reporting); empty when there
    /// were no samples.
    pub decoded: String,
}

impl LegacyEncoding {
    /// Every supported encoding.
    pub const ALL: [LegacyEncoding; 5] = [
        LegacyEncoding::Utf8,
        LegacyEncoding::Latin1,
        LegacyEncoding::Tcvn3,
        LegacyEncoding::Vni,
        LegacyEncoding::Cp1258,
    ];

    /// Canonical lower-case name (the same string serde uses).
    pub fn name(&self) -> &'static str {
        match self {
            LegacyEncoding::Utf8 => "utf8",
            LegacyEncoding::Latin1 => "latin1",
            LegacyEncoding::Tcvn3 => "tcvn3",
            LegacyEncoding::Vni => "vni",
            LegacyEncoding::Cp1258 => "cp1258",
        }
    }

    /// Decodes `bytes` into NFC-normalised Unicode.
    ///
    /// Only [`LegacyEncoding::Utf8`] (invalid sequences) and [`LegacyEncoding::Cp1258`]
    /// (the five undefined bytes) can fail; the other decoders accept every byte.
    pub fn decode(&self, bytes: &[u8]) -> Result<String, DecodeError> {
        let raw: Cow<'_, str> = match self {
            LegacyEncoding::Utf8 => Cow::Borrowed(std::str::from_utf8(bytes).map_err(|e| {
                let offset = e.valid_up_to();
                DecodeError::InvalidUtf8 {
                    offset,
                    byte: bytes.get(offset).copied().unwrap_or(0),
                }
            })?),
            LegacyEncoding::Latin1 => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
            LegacyEncoding::Tcvn3 => Cow::Owned(
                bytes
                    .iter()
                    .map(|&b| TCVN3_TO_UNICODE[usize::from(b)])
                    .collect(),
            ),
            LegacyEncoding::Vni => Cow::Owned(decode_vni_raw(bytes)),
            LegacyEncoding::Cp1258 => Cow::Owned(decode_cp1258_raw(bytes)?),
        };
        Ok(to_nfc(raw))
    }
}

impl fmt::Display for LegacyEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LegacyEncoding {
    type Err = ParseEncodingError;

    /// Case-insensitive; surrounding whitespace is ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Ok(LegacyEncoding::Utf8),
            "latin1" | "latin-1" | "iso-8859-1" => Ok(LegacyEncoding::Latin1),
            "tcvn3" | "tcvn" | "abc" => Ok(LegacyEncoding::Tcvn3),
            "vni" | "vni-windows" => Ok(LegacyEncoding::Vni),
            "cp1258" | "windows-1258" => Ok(LegacyEncoding::Cp1258),
            _ => Err(ParseEncodingError {
                input: s.to_owned(),
            }),
        }
    }
}

fn to_nfc(s: Cow<'_, str>) -> String {
    if unicode_normalization::is_nfc(&s) {
        s.into_owned()
    } else {
        s.nfc().collect()
    }
}

// ---------------------------------------------------------------------------
// Vietnamese letter model shared by the VNI encoder and the syllable checker
// ---------------------------------------------------------------------------

const COMBINING_GRAVE: char = '\u{300}';
const COMBINING_ACUTE: char = '\u{301}';
const COMBINING_CIRCUMFLEX: char = '\u{302}';
const COMBINING_TILDE: char = '\u{303}';
const COMBINING_BREVE: char = '\u{306}';
const COMBINING_HOOK: char = '\u{309}';
const COMBINING_HORN: char = '\u{31B}';
const COMBINING_DOT_BELOW: char = '\u{323}';

/// The six Vietnamese tones, in the conventional order (ngang, huyền, sắc, hỏi, ngã, nặng).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Level,
    Grave,
    Acute,
    Hook,
    Tilde,
    Dot,
}

impl Tone {
    const ALL: [Tone; 6] = [
        Tone::Level,
        Tone::Grave,
        Tone::Acute,
        Tone::Hook,
        Tone::Tilde,
        Tone::Dot,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn mark(self) -> Option<char> {
        match self {
            Tone::Level => None,
            Tone::Grave => Some(COMBINING_GRAVE),
            Tone::Acute => Some(COMBINING_ACUTE),
            Tone::Hook => Some(COMBINING_HOOK),
            Tone::Tilde => Some(COMBINING_TILDE),
            Tone::Dot => Some(COMBINING_DOT_BELOW),
        }
    }

    fn from_mark(c: char) -> Option<Tone> {
        Tone::ALL.into_iter().find(|t| t.mark() == Some(c))
    }
}

/// One letter split into its toneless lower-case base (`a ă â … ư y đ` or an ASCII
/// consonant), its tone and its case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Letter {
    base: char,
    tone: Tone,
    upper: bool,
}

fn is_vowel(base: char) -> bool {
    matches!(
        base,
        'a' | 'ă' | 'â' | 'e' | 'ê' | 'i' | 'o' | 'ô' | 'ơ' | 'u' | 'ư' | 'y'
    )
}

/// Splits a precomposed letter. `None` for anything that is not an ASCII letter or a
/// letter of the Vietnamese alphabet (e.g. `ä`, `ç`, digits, combining marks).
fn analyse(c: char) -> Option<Letter> {
    let mut lowered = c.to_lowercase();
    let lower = lowered.next()?;
    if lowered.next().is_some() {
        return None;
    }
    let upper = lower != c;
    if lower == 'đ' {
        return Some(Letter {
            base: 'đ',
            tone: Tone::Level,
            upper,
        });
    }
    let mut parts = std::iter::once(lower).nfd();
    let ascii = parts.next()?;
    if !ascii.is_ascii_lowercase() {
        return None;
    }
    let mut quality = None;
    let mut tone = Tone::Level;
    for mark in parts {
        if let Some(t) = Tone::from_mark(mark) {
            if tone != Tone::Level {
                return None;
            }
            tone = t;
        } else if matches!(
            mark,
            COMBINING_CIRCUMFLEX | COMBINING_BREVE | COMBINING_HORN
        ) {
            if quality.is_some() {
                return None;
            }
            quality = Some(mark);
        } else {
            return None;
        }
    }
    let base = match (ascii, quality) {
        (c, None) => c,
        ('a', Some(COMBINING_BREVE)) => 'ă',
        ('a', Some(COMBINING_CIRCUMFLEX)) => 'â',
        ('e', Some(COMBINING_CIRCUMFLEX)) => 'ê',
        ('o', Some(COMBINING_CIRCUMFLEX)) => 'ô',
        ('o', Some(COMBINING_HORN)) => 'ơ',
        ('u', Some(COMBINING_HORN)) => 'ư',
        _ => return None,
    };
    if tone != Tone::Level && !is_vowel(base) {
        return None;
    }
    Some(Letter { base, tone, upper })
}

// ---------------------------------------------------------------------------
// TCVN3
// ---------------------------------------------------------------------------

/// TCVN 5712 bytes `0x80..=0xFF`, checked byte by byte against glibc `TCVN5712-1`.
/// VN3 (the .VnTime set) is `0xA1..=0xA7` (capitals) and the lower-case letters in
/// `0xA8..=0xFE`; the capitals elsewhere and the combining marks at `0xB0..=0xB4`
/// come from the VN1 superset that glibc implements.
const TCVN3_HIGH: [char; 128] = [
    // 0x80..=0x87
    'À', 'Ả', 'Ã', 'Á', 'Ạ', 'Ặ', 'Ậ', 'È', //
    // 0x88..=0x8F
    'Ẻ', 'Ẽ', 'É', 'Ẹ', 'Ệ', 'Ì', 'Ỉ', 'Ĩ', //
    // 0x90..=0x97
    'Í', 'Ị', 'Ò', 'Ỏ', 'Õ', 'Ó', 'Ọ', 'Ộ', //
    // 0x98..=0x9F
    'Ờ', 'Ở', 'Ỡ', 'Ớ', 'Ợ', 'Ù', 'Ủ', 'Ũ', //
    // 0xA0..=0xA7: no-break space, then the seven VN3 capitals
    '\u{A0}', 'Ă', 'Â', 'Ê', 'Ô', 'Ơ', 'Ư', 'Đ', //
    // 0xA8..=0xAF: ă â ê ô ơ ư đ, Ằ (VN1)
    'ă', 'â', 'ê', 'ô', 'ơ', 'ư', 'đ', 'Ằ', //
    // 0xB0..=0xB7: combining grave, hook above, tilde, acute, dot below (VN1); à ả ã
    '\u{300}', '\u{309}', '\u{303}', '\u{301}', '\u{323}', 'à', 'ả', 'ã', //
    // 0xB8..=0xBF
    'á', 'ạ', 'Ẳ', 'ằ', 'ẳ', 'ẵ', 'ắ', 'Ẵ', //
    // 0xC0..=0xC7
    'Ắ', 'Ầ', 'Ẩ', 'Ẫ', 'Ấ', 'Ề', 'ặ', 'ầ', //
    // 0xC8..=0xCF
    'ẩ', 'ẫ', 'ấ', 'ậ', 'è', 'Ể', 'ẻ', 'ẽ', //
    // 0xD0..=0xD7
    'é', 'ẹ', 'ề', 'ể', 'ễ', 'ế', 'ệ', 'ì', //
    // 0xD8..=0xDF
    'ỉ', 'Ễ', 'Ế', 'Ồ', 'ĩ', 'í', 'ị', 'ò', //
    // 0xE0..=0xE7
    'Ổ', 'ỏ', 'õ', 'ó', 'ọ', 'ồ', 'ổ', 'ỗ', //
    // 0xE8..=0xEF
    'ố', 'ộ', 'ờ', 'ở', 'ỡ', 'ớ', 'ợ', 'ù', //
    // 0xF0..=0xF7
    'Ỗ', 'ủ', 'ũ', 'ú', 'ụ', 'ừ', 'ử', 'ữ', //
    // 0xF8..=0xFF
    'ứ', 'ự', 'ỳ', 'ỷ', 'ỹ', 'ý', 'ỵ', 'Ố', //
];

/// The full TCVN3 decoding table: ASCII for `0x00..=0x7F` (see the module docs for why
/// glibc's control-range capitals are not adopted) and, above, the TCVN 5712 letters
/// and marks (byte-for-byte equal to glibc `TCVN5712-1` there).
pub static TCVN3_TO_UNICODE: [char; 256] = {
    let mut table = ['\0'; 256];
    let mut i = 0;
    while i < 128 {
        table[i] = i as u8 as char;
        table[128 + i] = TCVN3_HIGH[i];
        i += 1;
    }
    table
};

/// Whether an encoder may emit `byte`: ASCII, no-break space, and the VN3 letters.
fn tcvn3_encodable(byte: u8) -> bool {
    match byte {
        0x00..=0x7F | 0xA0..=0xA7 => true,
        0xB0..=0xB4 => false,
        0xA8..=0xFF => !TCVN3_TO_UNICODE[usize::from(byte)].is_uppercase(),
        _ => false,
    }
}

fn tcvn3_lookup(c: char) -> Option<u8> {
    (0u8..=0xFF).find(|&b| tcvn3_encodable(b) && TCVN3_TO_UNICODE[usize::from(b)] == c)
}

fn encode_tcvn3_impl(text: &str, lossy: bool) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(text.len());
    for (index, c) in text.nfc().enumerate() {
        if let Some(b) = tcvn3_lookup(c) {
            out.push(b);
            continue;
        }
        let lowered = single_lowercase(c)
            .filter(|&l| l != c)
            .and_then(tcvn3_lookup);
        match lowered {
            Some(b) if lossy => out.push(b),
            Some(_) => return Err(EncodeError::Tcvn3Capital { ch: c, index }),
            None => {
                return Err(EncodeError::Unencodable {
                    encoding: LegacyEncoding::Tcvn3.name(),
                    ch: c,
                    index,
                })
            }
        }
    }
    Ok(out)
}

fn single_lowercase(c: char) -> Option<char> {
    let mut it = c.to_lowercase();
    let l = it.next()?;
    it.next().is_none().then_some(l)
}

/// Encodes text as TCVN3 (VN3). Accepts ASCII, every lower-case Vietnamese letter and
/// the capitals `Ă Â Ê Ô Ơ Ư Đ` (plain capitals are ASCII). Toned capitals such as `Ấ`
/// are an [`EncodeError::Tcvn3Capital`]; use [`encode_tcvn3_lossy`] to lower-case them.
/// Input is NFC-normalised first, so decomposed text is fine.
pub fn encode_tcvn3(text: &str) -> Result<Vec<u8>, EncodeError> {
    encode_tcvn3_impl(text, false)
}

/// Like [`encode_tcvn3`], but capitals without a TCVN3 code are written as their
/// lower-case letter — exactly what a .VnTimeH user typed. Other unencodable
/// characters are still an error.
pub fn encode_tcvn3_lossy(text: &str) -> Result<Vec<u8>, EncodeError> {
    encode_tcvn3_impl(text, true)
}

/// Restores upper case lost by TCVN3, heuristically.
///
/// With the .VnTimeH fonts a toned capital was typed with the lower-case code, so a
/// decoded all-caps value reads `XÃ TÂN THÀNH` as `Xã TâN THàNH`. If the text has at
/// least two upper-case ASCII letters and no lower-case ASCII letter, it is upper-cased
/// whole; otherwise each word that has an upper-case ASCII letter after its first
/// character and no lower-case ASCII letter is upper-cased (`ĐồNG` → `ĐỒNG`). Title-case
/// words such as `Bà` are left alone. [`LegacyEncoding::decode`] never applies this.
pub fn tcvn3_restore_case(text: &str) -> String {
    let ascii_upper = text.chars().filter(char::is_ascii_uppercase).count();
    let ascii_lower = text.chars().any(|c| c.is_ascii_lowercase());
    if ascii_upper >= 2 && !ascii_lower {
        return text.to_uppercase();
    }
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let shouty = word.chars().skip(1).any(|c| c.is_ascii_uppercase())
            && !word.chars().any(|c| c.is_ascii_lowercase());
        if shouty {
            out.push_str(&word.to_uppercase());
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphabetic() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

// ---------------------------------------------------------------------------
// VNI-Windows
// ---------------------------------------------------------------------------
//
// Lower-case codes, indexed by `Tone::index` (level, grave, acute, hook, tilde, dot).
// The upper-case code of every non-ASCII byte below is the byte minus 0x20, i.e. the
// upper-case Latin-1 letter (`ø` → `Ø`).

/// Tone mark after a plain vowel or after ơ/ư: `ø ù û õ ï`.
const VNI_TONE: [u8; 6] = [0, 0xF8, 0xF9, 0xFB, 0xF5, 0xEF];
/// Circumflex (+ tone) after a/e/o, making â/ê/ô: `â à á å ã ä`.
const VNI_CIRCUMFLEX: [u8; 6] = [0xE2, 0xE0, 0xE1, 0xE5, 0xE3, 0xE4];
/// Breve (+ tone) after a, making ă: `ê è é ú ü ë`.
const VNI_BREVE: [u8; 6] = [0xEA, 0xE8, 0xE9, 0xFA, 0xFC, 0xEB];
/// i with each tone is a single byte: `i ì í æ ó ò`.
const VNI_I: [u8; 6] = [b'i', 0xEC, 0xED, 0xE6, 0xF3, 0xF2];
/// ỵ (y with dot below) is a single byte `î`; the other toned y are `y` + tone mark.
const VNI_Y_DOT: u8 = 0xEE;
/// ơ `ô`, ư `ö`, đ `ñ`.
const VNI_O_HORN: u8 = 0xF4;
const VNI_U_HORN: u8 = 0xF6;
const VNI_D_STROKE: u8 = 0xF1;

/// Appends the meaning of one VNI byte: a letter, combining marks, or (for bytes VNI
/// does not use) the Latin-1 character.
fn push_vni_byte(out: &mut String, byte: u8) {
    if byte < 0xC0 {
        out.push(char::from(byte));
        return;
    }
    let upper = byte < 0xE0;
    let lower = byte | 0x20;
    let pick = |l: char, u: char| if upper { u } else { l };
    let position = |table: &[u8; 6]| table.iter().position(|&b| b == lower);

    if let Some(i) = position(&VNI_CIRCUMFLEX) {
        out.push(COMBINING_CIRCUMFLEX);
        out.extend(Tone::ALL[i].mark());
    } else if let Some(i) = position(&VNI_BREVE) {
        out.push(COMBINING_BREVE);
        out.extend(Tone::ALL[i].mark());
    } else if let Some(i) = VNI_TONE[1..].iter().position(|&b| b == lower) {
        out.extend(Tone::ALL[i + 1].mark());
    } else if let Some(i) = VNI_I[1..].iter().position(|&b| b == lower) {
        out.push(pick('i', 'I'));
        out.extend(Tone::ALL[i + 1].mark());
    } else if lower == VNI_Y_DOT {
        out.push(pick('y', 'Y'));
        out.push(COMBINING_DOT_BELOW);
    } else if lower == VNI_O_HORN {
        out.push(pick('ơ', 'Ơ'));
    } else if lower == VNI_U_HORN {
        out.push(pick('ư', 'Ư'));
    } else if lower == VNI_D_STROKE {
        out.push(pick('đ', 'Đ'));
    } else {
        out.push(char::from(byte));
    }
}

fn decode_vni_raw(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    for &b in bytes {
        push_vni_byte(&mut out, b);
    }
    out
}

/// Whether VNI gives `byte` a Vietnamese meaning (so it cannot carry a Latin-1 char).
fn vni_byte_is_special(byte: u8) -> bool {
    if byte < 0xC0 {
        return false;
    }
    let mut probe = String::new();
    push_vni_byte(&mut probe, byte);
    probe.chars().ne(std::iter::once(char::from(byte)))
}

/// Lower-case VNI bytes for one Vietnamese letter.
fn vni_letter_bytes(letter: Letter) -> Vec<u8> {
    let t = letter.tone.index();
    let with_tone = |first: u8| {
        let mut v = vec![first];
        if letter.tone != Tone::Level {
            v.push(VNI_TONE[t]);
        }
        v
    };
    match letter.base {
        'i' => vec![VNI_I[t]],
        'y' if letter.tone == Tone::Dot => vec![VNI_Y_DOT],
        'ă' => vec![b'a', VNI_BREVE[t]],
        'â' => vec![b'a', VNI_CIRCUMFLEX[t]],
        'ê' => vec![b'e', VNI_CIRCUMFLEX[t]],
        'ô' => vec![b'o', VNI_CIRCUMFLEX[t]],
        'ơ' => with_tone(VNI_O_HORN),
        'ư' => with_tone(VNI_U_HORN),
        'đ' => vec![VNI_D_STROKE],
        // Plain vowels and ASCII consonants (consonants never carry a tone here).
        c => with_tone(u8::try_from(c).unwrap_or(b'?')),
    }
}

/// Encodes text as VNI-Windows, upper and lower case. ASCII passes through, every
/// Vietnamese letter gets its VNI spelling, and Latin-1 symbols whose byte VNI does
/// not use (`°`, `²`, `©`, …) pass through as that byte. Input is NFC-normalised first.
pub fn encode_vni(text: &str) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 2);
    for (index, c) in text.nfc().enumerate() {
        if c.is_ascii() {
            out.extend(u8::try_from(c).ok());
            continue;
        }
        if let Some(letter) = analyse(c) {
            for b in vni_letter_bytes(letter) {
                out.push(match (letter.upper, b) {
                    (true, b) if b.is_ascii_lowercase() => b.to_ascii_uppercase(),
                    (true, b) if b >= 0xE0 => b - 0x20,
                    (_, b) => b,
                });
            }
            continue;
        }
        match u8::try_from(c) {
            Ok(b) if b >= 0xA0 && !vni_byte_is_special(b) => out.push(b),
            _ => {
                return Err(EncodeError::Unencodable {
                    encoding: LegacyEncoding::Vni.name(),
                    ch: c,
                    index,
                })
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Windows-1258
// ---------------------------------------------------------------------------

/// Marks the five bytes Windows-1258 leaves undefined.
const UNDEFINED: char = '\u{FFFF}';

/// Windows-1258 bytes `0x80..=0xFF` (checked against glibc `CP1258`).
const CP1258_HIGH: [char; 128] = [
    // 0x80..=0x8F
    '\u{20AC}', UNDEFINED, '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', UNDEFINED, '\u{2039}', '\u{0152}', UNDEFINED, UNDEFINED, UNDEFINED,
    // 0x90..=0x9F
    UNDEFINED, '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', UNDEFINED, '\u{203A}', '\u{0153}', UNDEFINED, UNDEFINED, '\u{0178}',
    // 0xA0..=0xBF: identical to Latin-1
    '\u{A0}', '\u{A1}', '\u{A2}', '\u{A3}', '\u{A4}', '\u{A5}', '\u{A6}', '\u{A7}', //
    '\u{A8}', '\u{A9}', '\u{AA}', '\u{AB}', '\u{AC}', '\u{AD}', '\u{AE}', '\u{AF}', //
    '\u{B0}', '\u{B1}', '\u{B2}', '\u{B3}', '\u{B4}', '\u{B5}', '\u{B6}', '\u{B7}', //
    '\u{B8}', '\u{B9}', '\u{BA}', '\u{BB}', '\u{BC}', '\u{BD}', '\u{BE}', '\u{BF}', //
    // 0xC0..=0xCF: Ă at 0xC3, combining grave at 0xCC
    'À', 'Á', 'Â', 'Ă', 'Ä', 'Å', 'Æ', 'Ç', 'È', 'É', 'Ê', 'Ë', '\u{300}', 'Í', 'Î', 'Ï', //
    // 0xD0..=0xDF: Đ, combining hook above at 0xD2, Ơ, Ư, combining tilde at 0xDE
    'Đ', 'Ñ', '\u{309}', 'Ó', 'Ô', 'Ơ', 'Ö', '×', 'Ø', 'Ù', 'Ú', 'Û', 'Ü', 'Ư', '\u{303}', 'ß',
    // 0xE0..=0xEF: ă at 0xE3, combining acute at 0xEC
    'à', 'á', 'â', 'ă', 'ä', 'å', 'æ', 'ç', 'è', 'é', 'ê', 'ë', '\u{301}', 'í', 'î', 'ï', //
    // 0xF0..=0xFF: đ, combining dot below at 0xF2, ơ, ư, đồng sign
    'đ', 'ñ', '\u{323}', 'ó', 'ô', 'ơ', 'ö', '÷', 'ø', 'ù', 'ú', 'û', 'ü', 'ư', '\u{20AB}', 'ÿ',
];

fn decode_cp1258_raw(bytes: &[u8]) -> Result<String, DecodeError> {
    let mut out = String::with_capacity(bytes.len());
    for (offset, &byte) in bytes.iter().enumerate() {
        let c = if byte < 0x80 {
            char::from(byte)
        } else {
            CP1258_HIGH[usize::from(byte - 0x80)]
        };
        if c == UNDEFINED {
            return Err(DecodeError::Unmapped {
                encoding: LegacyEncoding::Cp1258.name(),
                offset,
                byte,
            });
        }
        out.push(c);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Syllable checker and detection
// ---------------------------------------------------------------------------

/// Initial consonants (longest alternatives are tried too; `""` is a vowel-initial syllable).
const ONSETS: &[&str] = &[
    "", "b", "c", "ch", "d", "đ", "g", "gh", "gi", "h", "k", "kh", "l", "m", "n", "ng", "ngh",
    "nh", "p", "ph", "qu", "r", "s", "t", "th", "tr", "v", "x",
];

/// Toneless rhymes (medial + nucleus + coda) of standard Vietnamese spelling.
const RHYMES: &[&str] = &[
    // a ă â
    "a", "ac", "ach", "ai", "am", "an", "ang", "anh", "ao", "ap", "at", "au", "ay", //
    "ăc", "ăm", "ăn", "ăng", "ăp", "ăt", //
    "âc", "âm", "ân", "âng", "âp", "ât", "âu", "ây", //
    // e ê
    "e", "ec", "em", "en", "eng", "eo", "ep", "et", //
    "ê", "êch", "êm", "ên", "ênh", "êp", "êt", "êu", //
    // i and iê/ia
    "i", "ia", "ich", "im", "in", "inh", "ip", "it", "iu", //
    "iêc", "iêm", "iên", "iêng", "iêp", "iêt", "iêu", //
    // o, and o as medial
    "o", "oc", "oi", "om", "on", "ong", "op", "ot", "ooc", "oong", //
    "oa", "oac", "oach", "oai", "oam", "oan", "oang", "oanh", "oao", "oap", "oat", "oay", //
    "oăc", "oăm", "oăn", "oăng", "oăt", "oe", "oen", "oeo", "oet", //
    // ô ơ
    "ô", "ôc", "ôi", "ôm", "ôn", "ông", "ôp", "ôt", //
    "ơ", "ơi", "ơm", "ơn", "ơp", "ơt", //
    // u, uô/ua, and u as medial
    "u", "ua", "uc", "ui", "um", "un", "ung", "up", "ut", //
    "uôc", "uôi", "uôm", "uôn", "uông", "uôt", //
    "uân", "uâng", "uât", "uây", "uê", "uêch", "uênh", "uơ", //
    "uy", "uya", "uych", "uyên", "uyêt", "uynh", "uyt", "uyu", //
    // ư, ươ/ưa
    "ư", "ưa", "ưc", "ưi", "ưm", "ưn", "ưng", "ưt", "ưu", //
    "ươc", "ươi", "ươm", "ươn", "ương", "ươp", "ươt", "ươu", //
    // y and yê
    "y", "yêm", "yên", "yêt", "yêu",
];

/// Whether `word` (one word, any case, any normalisation form) is a well-formed
/// Vietnamese syllable: known onset + known rhyme, at most one tone mark, and a
/// syllable closed by p/t/c/ch carrying the acute or dot-below tone. A final `k` is
/// accepted in place of `c` for minority place names such as Đắk Lắk.
pub fn is_vietnamese_syllable(word: &str) -> bool {
    let mut toneless = String::with_capacity(word.len());
    let mut tone = Tone::Level;
    for c in word.nfc() {
        let Some(letter) = analyse(c) else {
            return false;
        };
        if letter.tone != Tone::Level {
            if tone != Tone::Level {
                return false;
            }
            tone = letter.tone;
        }
        toneless.push(letter.base);
    }
    if toneless.is_empty() {
        return false;
    }
    ONSETS.iter().any(|onset| {
        toneless
            .strip_prefix(onset)
            .is_some_and(|rhyme| rhyme_is_valid(rhyme, tone))
    })
}

fn rhyme_is_valid(rhyme: &str, tone: Tone) -> bool {
    let rhyme: Cow<'_, str> = match rhyme.strip_suffix('k') {
        Some(stem) => Cow::Owned(format!("{stem}c")),
        None => Cow::Borrowed(rhyme),
    };
    if !RHYMES.contains(&rhyme.as_ref()) {
        return false;
    }
    let closed = rhyme.ends_with('p')
        || rhyme.ends_with('t')
        || rhyme.ends_with('c')
        || rhyme.ends_with("ch");
    !closed || matches!(tone, Tone::Acute | Tone::Dot)
}

/// Counts (well-formed syllables, scored words) over the words that contain a
/// non-ASCII character — pure-ASCII words read the same in every encoding.
fn syllable_score<S: AsRef<str>>(texts: &[S]) -> (usize, usize) {
    let mut valid = 0;
    let mut total = 0;
    for text in texts {
        let words = text
            .as_ref()
            .split(|c: char| c.is_whitespace() || c.is_ascii_punctuation() || c.is_ascii_digit());
        for word in words.filter(|w| !w.is_ascii()) {
            total += 1;
            if is_vietnamese_syllable(word) {
                valid += 1;
            }
        }
    }
    (valid, total)
}

fn ratio((valid, total): (usize, usize)) -> f32 {
    if total == 0 {
        0.0
    } else {
        valid as f32 / total as f32
    }
}

/// Guesses the encoding of one DBF field from raw samples of its values.
///
/// * No sample has a non-ASCII byte → [`LegacyEncoding::Utf8`], confidence 1.0.
/// * All samples are valid UTF-8 → Utf8 with confidence `0.8 + 0.2 × r` (where `r` is
///   the share of non-ASCII words that are Vietnamese syllables), unless the text does
///   not look Vietnamese (`r < 0.5`) and a legacy decoding does better.
/// * Otherwise TCVN3, VNI, Windows-1258 and Latin-1 (those that decode every sample)
///   are scored by counting well-formed and malformed non-ASCII words. Under a simple
///   model — a word is well-formed with probability 0.9 when its decoding is right and
///   0.25 when it is wrong — each count gives a log-likelihood, and the confidence is
///   the winner's posterior probability (uniform prior; ties go in the order above).
///   So one telling word gives about 0.9, a dozen give nearly 1, and decodings that
///   read equally well split the confidence between them. When no decoding yields a
///   single well-formed word the result is Latin-1 with confidence 0.
pub fn detect(samples: &[&[u8]]) -> Detection {
    let decode_first = |encoding: LegacyEncoding| {
        samples
            .first()
            .map(|s| {
                encoding
                    .decode(s)
                    .unwrap_or_else(|_| s.iter().map(|&b| char::from(b)).collect())
            })
            .unwrap_or_default()
    };
    let decode_all = |encoding: LegacyEncoding| -> Option<Vec<String>> {
        samples.iter().map(|s| encoding.decode(s).ok()).collect()
    };

    if samples.iter().all(|s| s.is_ascii()) {
        return Detection {
            encoding: LegacyEncoding::Utf8,
            confidence: 1.0,
            decoded: decode_first(LegacyEncoding::Utf8),
        };
    }

    let legacy = [
        LegacyEncoding::Tcvn3,
        LegacyEncoding::Vni,
        LegacyEncoding::Cp1258,
        LegacyEncoding::Latin1,
    ];
    let mut scored: Vec<(LegacyEncoding, (usize, usize))> = legacy
        .into_iter()
        .filter_map(|e| decode_all(e).map(|texts| (e, syllable_score(&texts))))
        .collect();
    // Stable sort keeps the priority order above for equal evidence.
    scored.sort_by(|a, b| log_evidence(b.1).total_cmp(&log_evidence(a.1)));

    if let Some(texts) = decode_all(LegacyEncoding::Utf8) {
        let utf8_ratio = ratio(syllable_score(&texts));
        let best_legacy = scored.iter().map(|s| ratio(s.1)).fold(0.0, f32::max);
        if utf8_ratio >= 0.5 || utf8_ratio >= best_legacy {
            return Detection {
                encoding: LegacyEncoding::Utf8,
                confidence: 0.8 + 0.2 * utf8_ratio,
                decoded: decode_first(LegacyEncoding::Utf8),
            };
        }
    }

    match scored.first() {
        Some(&(encoding, score)) if score.0 > 0 => {
            let best = log_evidence(score);
            let partition: f64 = scored
                .iter()
                .map(|s| (log_evidence(s.1) - best).exp())
                .sum();
            Detection {
                encoding,
                confidence: (1.0 / partition).clamp(0.0, 1.0) as f32,
                decoded: decode_first(encoding),
            }
        }
        _ => Detection {
            encoding: LegacyEncoding::Latin1,
            confidence: 0.0,
            decoded: decode_first(LegacyEncoding::Latin1),
        },
    }
}

/// Probability that a word is a well-formed syllable when the decoding is right
/// (names of minority places, abbreviations and typos make it less than 1) …
const P_VALID_IF_RIGHT: f64 = 0.9;
/// … and when the decoding is wrong (mojibake is sometimes well-formed by chance,
/// e.g. VNI `troàng` read as Latin-1).
const P_VALID_IF_WRONG: f64 = 0.25;

/// Log-likelihood ratio of "this decoding is the right one", up to a constant shared
/// by all candidates: each well-formed word counts for, each malformed one against.
fn log_evidence((valid, total): (usize, usize)) -> f64 {
    let invalid = total.saturating_sub(valid);
    valid as f64 * (P_VALID_IF_RIGHT / P_VALID_IF_WRONG).ln()
        + invalid as f64 * ((1.0 - P_VALID_IF_RIGHT) / (1.0 - P_VALID_IF_WRONG)).ln()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;
    use std::process::{Command, Stdio};
    use unicode_normalization::is_nfc;

    /// Runs glibc `iconv`; the tests must fail, not skip, when it is missing.
    fn iconv(from: &str, to: &str, input: &[u8]) -> Vec<u8> {
        let mut child = match Command::new("iconv")
            .args(["-f", from, "-t", to])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot run `iconv` ({e}): glibc iconv is the test oracle for the legacy \
                 encodings; install it with `apt-get install libc-bin`"
            ),
        };
        child
            .stdin
            .take()
            .expect("iconv stdin")
            .write_all(input)
            .expect("write to iconv");
        let out = child.wait_with_output().expect("wait for iconv");
        assert!(
            out.status.success(),
            "`iconv -f {from} -t {to}` failed: {} (install libc-bin with its gconv modules)",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn nfc(s: &str) -> String {
        s.nfc().collect()
    }

    fn latin1_bytes(s: &str) -> Vec<u8> {
        s.chars()
            .map(|c| u8::try_from(c).expect("test string must be Latin-1"))
            .collect()
    }

    const BASE_VOWELS: [char; 12] = ['a', 'ă', 'â', 'e', 'ê', 'i', 'o', 'ô', 'ơ', 'u', 'ư', 'y'];

    /// Every lower-case Vietnamese letter: 12 vowels × 6 tones, d and đ.
    fn lower_letters() -> Vec<String> {
        let mut v = Vec::new();
        for base in BASE_VOWELS {
            for tone in Tone::ALL {
                let mut s = String::from(base);
                s.extend(tone.mark());
                v.push(nfc(&s));
            }
        }
        v.push("d".into());
        v.push("đ".into());
        v
    }

    fn all_letters() -> Vec<String> {
        let lower = lower_letters();
        let upper: Vec<String> = lower.iter().map(|s| s.to_uppercase()).collect();
        lower.into_iter().chain(upper).collect()
    }

    #[test]
    fn letter_inventory_is_complete() {
        let all = all_letters();
        assert_eq!(all.len(), 148);
        for l in &all {
            assert_eq!(l.chars().count(), 1, "{l:?} is not precomposed");
            assert!(analyse(l.chars().next().unwrap_or(' ')).is_some(), "{l:?}");
        }
    }

    #[test]
    fn vni_round_trips_every_letter() {
        for letter in all_letters() {
            let bytes = encode_vni(&letter).expect("encodable");
            let back = LegacyEncoding::Vni.decode(&bytes).expect("decodable");
            assert_eq!(back, letter, "bytes {bytes:02X?}");
        }
        let text = all_letters().join(" ");
        let bytes = encode_vni(&text).expect("encodable");
        assert_eq!(LegacyEncoding::Vni.decode(&bytes).expect("decodable"), text);
    }

    #[test]
    fn tcvn3_round_trips_lower_case_and_the_seven_capitals() {
        let mut letters = lower_letters();
        letters.extend(["Ă", "Â", "Ê", "Ô", "Ơ", "Ư", "Đ", "D"].map(String::from));
        for letter in &letters {
            let bytes = encode_tcvn3(letter).expect("encodable");
            assert_eq!(bytes.len(), 1, "{letter:?}");
            let back = LegacyEncoding::Tcvn3.decode(&bytes).expect("decodable");
            assert_eq!(&back, letter);
        }
        let text = letters.join(" ");
        let bytes = encode_tcvn3(&text).expect("encodable");
        assert_eq!(
            LegacyEncoding::Tcvn3.decode(&bytes).expect("decodable"),
            text
        );
    }

    #[test]
    fn tcvn3_capitals_strict_and_lossy() {
        let err = encode_tcvn3("XÃ Tân").expect_err("Ã has no TCVN3 code");
        assert_eq!(err, EncodeError::Tcvn3Capital { ch: 'Ã', index: 1 });
        assert!(err.to_string().contains("'Ã'"), "{err}");
        let lossy = encode_tcvn3_lossy("XÃ Tân").expect("lossy");
        assert_eq!(lossy, b"X\xB7 T\xA9n");
        assert_eq!(LegacyEncoding::Tcvn3.decode(&lossy).expect("ok"), "Xã Tân");
        let err = encode_tcvn3("naïve").expect_err("ï is not Vietnamese");
        assert!(
            matches!(
                err,
                EncodeError::Unencodable {
                    ch: 'ï',
                    index: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("U+00EF"), "{err}");
        assert!(encode_tcvn3_lossy("Ç").is_err());
        // Decomposed input is normalised before encoding.
        assert_eq!(encode_tcvn3("a\u{300}").expect("ok"), vec![0xB5]);
    }

    #[test]
    fn tcvn3_matches_glibc_for_every_high_byte() {
        let mut input = Vec::new();
        for b in 0x80u8..=0xFF {
            input.push(b);
            input.push(b'\n');
        }
        let out = iconv("TCVN5712-1", "UTF-8", &input);
        let out = String::from_utf8(out).expect("iconv emits UTF-8");
        let lines: Vec<&str> = out.split('\n').collect();
        assert_eq!(
            lines.len(),
            129,
            "one line per byte plus the trailing empty one"
        );
        for (i, b) in (0x80u8..=0xFF).enumerate() {
            let ours = LegacyEncoding::Tcvn3.decode(&[b]).expect("total");
            assert_eq!(ours, nfc(lines[i]), "byte 0x{b:02X}");
            assert_eq!(
                TCVN3_TO_UNICODE[usize::from(b)],
                ours.chars().next().unwrap_or('\0')
            );
        }
    }

    #[test]
    fn tcvn3_low_half_is_ascii_by_decision() {
        // glibc maps some C0 slots to capitals (VN1); we deliberately keep ASCII.
        for b in 0u8..0x80 {
            assert_eq!(TCVN3_TO_UNICODE[usize::from(b)], char::from(b));
        }
    }

    #[test]
    fn tcvn3_text_matches_glibc() {
        let text = "bình phước đồng xoài chơn thành lộc ninh bù gia mập đất trồng cây lâu năm \
                    ở tại nông thôn khu dân cư rừng sản xuất phòng hộ đặc dụng thuỷ lợi \
                    Ăn Âu Ênh Ôi Ơi Ưa Đà";
        let bytes = encode_tcvn3(text).expect("encodable");
        let glibc = String::from_utf8(iconv("TCVN5712-1", "UTF-8", &bytes)).expect("utf8");
        assert_eq!(nfc(&glibc), text);
        assert_eq!(LegacyEncoding::Tcvn3.decode(&bytes).expect("ok"), text);
        // Combining marks at 0xB0..=0xB4 compose with the preceding letter, as in glibc.
        let combining = b"a\xB0 o\xB3 u\xB4";
        let glibc = String::from_utf8(iconv("TCVN5712-1", "UTF-8", combining)).expect("utf8");
        assert_eq!(
            LegacyEncoding::Tcvn3.decode(combining).expect("ok"),
            nfc(&glibc)
        );
        assert_eq!(
            LegacyEncoding::Tcvn3.decode(combining).expect("ok"),
            "à ó ụ"
        );
    }

    #[test]
    fn tcvn3_known_strings() {
        let bytes = b"B\xD7nh Ph\xAD\xEDc";
        assert_eq!(encode_tcvn3("Bình Phước").expect("ok"), bytes);
        assert_eq!(
            LegacyEncoding::Tcvn3.decode(bytes).expect("ok"),
            "Bình Phước"
        );
        let glibc = String::from_utf8(iconv("TCVN5712-1", "UTF-8", bytes)).expect("utf8");
        assert_eq!(nfc(&glibc), "Bình Phước");
        // What GDAL shows: the Latin-1 view.
        assert_eq!(
            LegacyEncoding::Latin1.decode(bytes).expect("ok"),
            "B×nh Ph\u{AD}íc"
        );
        assert_eq!(
            LegacyEncoding::Tcvn3
                .decode(b"\xA7\xE5ng Xo\xB5i")
                .expect("ok"),
            "Đồng Xoài"
        );
    }

    #[test]
    fn vni_known_strings() {
        let cases = [
            ("Bình Phöôùc", "Bình Phước"),
            ("Ñoàng Xoaøi", "Đồng Xoài"),
            ("Ñaát troàng caây laâu naêm", "Đất trồng cây lâu năm"),
            ("Tænh Bình Phöôùc", "Tỉnh Bình Phước"),
            ("thò xaõ Ñoàng Xoaøi", "thị xã Đồng Xoài"),
            ("Ñaø Naüng", "Đà Nẵng"),
            ("Ñaék Laék", "Đắk Lắk"),
            ("Nghóa trang", "Nghĩa trang"),
            ("Vieät Nam", "Việt Nam"),
            ("Quoác loä 14", "Quốc lộ 14"),
            ("Buoân Ma Thuoät", "Buôn Ma Thuột"),
            ("ÑOÀNG XOAØI", "ĐỒNG XOÀI"),
            ("BÌNH PHÖÔÙC", "BÌNH PHƯỚC"),
            ("THÒ XAÕ", "THỊ XÃ"),
            ("Huyeän Buø Ñoáp", "Huyện Bù Đốp"),
            ("kyø, kyù, kyû, kyõ, kî", "kỳ, ký, kỷ, kỹ, kỵ"),
            ("ÔÛ ÖÙ AÊ AË Î", "Ở Ứ Ă Ặ Ỵ"),
        ];
        for (latin1, expected) in cases {
            let bytes = latin1_bytes(latin1);
            let decoded = LegacyEncoding::Vni.decode(&bytes).expect("total");
            assert_eq!(decoded, nfc(expected), "{latin1}");
            assert!(is_nfc(&decoded));
        }
        assert_eq!(
            encode_vni("Bình Phước").expect("ok"),
            latin1_bytes("Bình Phöôùc")
        );
        assert_eq!(
            encode_vni("ĐỒNG XOÀI").expect("ok"),
            latin1_bytes("ÑOÀNG XOAØI")
        );
        assert_eq!(
            encode_vni("Đắk Lắk").expect("ok"),
            latin1_bytes("Ñaék Laék")
        );
    }

    #[test]
    fn vni_latin1_passthrough_and_errors() {
        // ° and ² are not VNI codes, so they survive a round trip.
        let bytes = encode_vni("150 m² ở 25°").expect("ok");
        assert_eq!(
            LegacyEncoding::Vni.decode(&bytes).expect("ok"),
            "150 m² ở 25°"
        );
        let err = encode_vni("Ä").expect_err("0xC4 is a VNI mark byte");
        assert!(matches!(
            err,
            EncodeError::Unencodable {
                ch: 'Ä',
                index: 0,
                ..
            }
        ));
        assert!(encode_vni("漢").is_err());
        // Mixed-case marks decode regardless of case.
        assert_eq!(
            LegacyEncoding::Vni
                .decode(&latin1_bytes("AÁp"))
                .expect("ok"),
            "Ấp"
        );
        assert_eq!(
            LegacyEncoding::Vni
                .decode(&latin1_bytes("Aáp"))
                .expect("ok"),
            "Ấp"
        );
    }

    #[test]
    fn cp1258_matches_glibc() {
        let words = [
            "Bình Phước",
            "Đồng Xoài",
            "ĐẤT TRỒNG CÂY LÂU NĂM",
            "Việt Nam",
            "Chơn Thành",
            "Ưu tiên",
            "Ăn uống",
            "thủy lợi",
            "rừng phòng hộ",
            "giá 100₫",
            "Hớn Quản",
            "Bù Gia Mập",
            "quyết định",
            "Lộc Ninh",
            "ỹ ỵ ỷ Ỹ",
        ];
        let joined = words.join("\n");
        let bytes = iconv("UTF-8", "CP1258", joined.as_bytes());
        let glibc = String::from_utf8(iconv("CP1258", "UTF-8", &bytes)).expect("utf8");
        let ours = LegacyEncoding::Cp1258.decode(&bytes).expect("ok");
        assert_eq!(ours, nfc(&glibc));
        assert_eq!(ours, joined);
        assert!(is_nfc(&ours));
        // Hand-written: ê (0xEA) + combining dot below (0xF2).
        assert_eq!(
            LegacyEncoding::Cp1258.decode(b"Vi\xEA\xF2t").expect("ok"),
            "Việt"
        );
    }

    #[test]
    fn cp1258_every_byte_matches_glibc() {
        for b in 0x80u8..=0xFF {
            let ours = LegacyEncoding::Cp1258.decode(&[b]);
            let defined = CP1258_HIGH[usize::from(b - 0x80)] != UNDEFINED;
            if defined {
                let glibc = String::from_utf8(iconv("CP1258", "UTF-8", &[b])).expect("utf8");
                assert_eq!(ours.expect("defined"), nfc(&glibc), "byte 0x{b:02X}");
            } else {
                assert_eq!(
                    ours,
                    Err(DecodeError::Unmapped {
                        encoding: "cp1258",
                        offset: 0,
                        byte: b
                    })
                );
            }
        }
        let err = LegacyEncoding::Cp1258
            .decode(b"ab\x81")
            .expect_err("undefined");
        assert_eq!(
            err.to_string(),
            "byte 0x81 at byte offset 2 is not defined in cp1258"
        );
    }

    #[test]
    fn utf8_and_latin1_passthrough() {
        assert_eq!(
            LegacyEncoding::Utf8
                .decode("Bình Phước".as_bytes())
                .expect("ok"),
            "Bình Phước"
        );
        // Decomposed UTF-8 comes out composed.
        assert_eq!(
            LegacyEncoding::Utf8
                .decode("Vie\u{302}\u{323}t".as_bytes())
                .expect("ok"),
            "Việt"
        );
        let err = LegacyEncoding::Utf8
            .decode(b"ab\xD7nh")
            .expect_err("invalid");
        assert_eq!(
            err,
            DecodeError::InvalidUtf8 {
                offset: 2,
                byte: 0xD7
            }
        );
        assert_eq!(
            err.to_string(),
            "invalid UTF-8 at byte offset 2 (byte 0xD7)"
        );
        let all: Vec<u8> = (0u8..=255).collect();
        let latin1 = LegacyEncoding::Latin1.decode(&all).expect("total");
        assert!(latin1.chars().map(u32::from).eq(0u32..=255));
    }

    #[test]
    fn every_decoder_outputs_nfc() {
        let all: Vec<u8> = (0u8..=255).collect();
        let pairs: Vec<u8> = (0xC0u8..=0xFF)
            .flat_map(|b| [b'a', b, b'o', b, b'e', b])
            .collect();
        for encoding in LegacyEncoding::ALL {
            for input in [&all[..], &pairs[..]] {
                if let Ok(s) = encoding.decode(input) {
                    assert!(is_nfc(&s), "{encoding}");
                }
            }
        }
    }

    #[test]
    fn names_parse_and_display() {
        for e in LegacyEncoding::ALL {
            assert_eq!(e.name().parse::<LegacyEncoding>(), Ok(e));
            assert_eq!(e.to_string(), e.name());
        }
        let cases = [
            ("utf-8", LegacyEncoding::Utf8),
            ("UTF8", LegacyEncoding::Utf8),
            ("latin1", LegacyEncoding::Latin1),
            ("tcvn", LegacyEncoding::Tcvn3),
            (" ABC ", LegacyEncoding::Tcvn3),
            ("vni", LegacyEncoding::Vni),
            ("Windows-1258", LegacyEncoding::Cp1258),
        ];
        for (s, e) in cases {
            assert_eq!(s.parse::<LegacyEncoding>(), Ok(e), "{s}");
        }
        let err = "koi8-r".parse::<LegacyEncoding>().expect_err("unknown");
        let msg = err.to_string();
        for accepted in [
            "utf8",
            "utf-8",
            "latin1",
            "tcvn3",
            "tcvn",
            "abc",
            "vni",
            "cp1258",
            "windows-1258",
        ] {
            assert!(msg.contains(accepted), "{msg}");
        }
        assert!(msg.contains("koi8-r"));
    }

    #[test]
    fn syllable_checker() {
        for w in [
            "Bình", "Phước", "Đồng", "xoài", "nghiêng", "quyết", "giữa", "gì", "khuya", "huỳnh",
            "khuỷu", "ĐẤT", "trồng", "thuở", "oẳn", "yêu", "Lắk", "Mập", "ơi", "xoong",
        ] {
            assert!(is_vietnamese_syllable(w), "{w} should be valid");
        }
        for w in [
            "phửụực",
            "bỡnh",
            "Ñoàng",
            "B×nh",
            "ìa\u{301}",
            "tràt",
            "đâ\u{301}\u{300}",
            "xyz",
            "café",
            "ng",
            "",
            "Phöôùc",
            "ẹoỔng",
        ] {
            assert!(!is_vietnamese_syllable(w), "{w} should be invalid");
        }
    }

    const PHRASES: [&str; 14] = [
        "Bình Phước",
        "Thành phố Đồng Xoài",
        "Thị xã Phước Long",
        "Huyện Chơn Thành",
        "Huyện Bù Gia Mập",
        "Xã Lộc Ninh",
        "Phường Tân Phú",
        "Đất trồng lúa nước",
        "Đất trồng cây lâu năm",
        "Đất ở tại nông thôn",
        "Đất rừng sản xuất",
        "Đất giao thông",
        "Đất thủy lợi",
        "Đất cơ sở y tế",
    ];

    #[test]
    fn detect_tcvn3() {
        let encoded: Vec<Vec<u8>> = PHRASES
            .iter()
            .map(|p| encode_tcvn3(p).expect("ok"))
            .collect();
        let samples: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        let d = detect(&samples);
        assert_eq!(d.encoding, LegacyEncoding::Tcvn3, "{d:?}");
        assert!(d.confidence > 0.8, "{d:?}");
        assert_eq!(d.decoded, "Bình Phước");
    }

    #[test]
    fn detect_vni() {
        let encoded: Vec<Vec<u8>> = PHRASES.iter().map(|p| encode_vni(p).expect("ok")).collect();
        let samples: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        let d = detect(&samples);
        assert_eq!(d.encoding, LegacyEncoding::Vni, "{d:?}");
        assert!(d.confidence > 0.8, "{d:?}");
        assert_eq!(d.decoded, "Bình Phước");
        // Upper-case VNI too.
        let upper: Vec<Vec<u8>> = PHRASES
            .iter()
            .map(|p| encode_vni(&p.to_uppercase()).expect("ok"))
            .collect();
        let samples: Vec<&[u8]> = upper.iter().map(Vec::as_slice).collect();
        let d = detect(&samples);
        assert_eq!(d.encoding, LegacyEncoding::Vni, "{d:?}");
        assert!(d.confidence > 0.8, "{d:?}");
    }

    #[test]
    fn detect_cp1258() {
        let joined = PHRASES.join("\n");
        let bytes = iconv("UTF-8", "CP1258", joined.as_bytes());
        let encoded: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let d = detect(&encoded);
        assert_eq!(d.encoding, LegacyEncoding::Cp1258, "{d:?}");
        assert!(d.confidence > 0.5, "{d:?}");
        assert_eq!(d.decoded, "Bình Phước");
    }

    #[test]
    fn detect_utf8_and_ascii() {
        let samples: Vec<&[u8]> = PHRASES.iter().map(|p| p.as_bytes()).collect();
        let d = detect(&samples);
        assert_eq!(d.encoding, LegacyEncoding::Utf8, "{d:?}");
        assert!(d.confidence > 0.9, "{d:?}");
        assert_eq!(d.decoded, "Bình Phước");

        let ascii: [&[u8]; 3] = [b"LUC", b"ONT", b"Rung san xuat 12"];
        let d = detect(&ascii);
        assert_eq!(d.encoding, LegacyEncoding::Utf8);
        assert_eq!(d.confidence, 1.0);
        assert_eq!(d.decoded, "LUC");

        let none = detect(&[]);
        assert_eq!(none.encoding, LegacyEncoding::Utf8);
        assert_eq!(none.decoded, "");
    }

    #[test]
    fn detect_confidence_reflects_evidence() {
        // "Bình" reads the same in VNI and Latin-1 (and as "Bính" in cp1258): no real evidence.
        let vague: [&[u8]; 1] = [b"B\xECnh"];
        let d = detect(&vague);
        assert!(d.confidence < 0.5, "{d:?}");
        // One telling word is good evidence, a dozen phrases are near-certain.
        let one = encode_vni("Phước").expect("ok");
        let d = detect(&[&one]);
        assert_eq!(d.encoding, LegacyEncoding::Vni, "{d:?}");
        assert!(d.confidence > 0.7 && d.confidence < 0.99, "{d:?}");
        let tcvn: Vec<Vec<u8>> = PHRASES
            .iter()
            .map(|p| encode_tcvn3(p).expect("ok"))
            .collect();
        let samples: Vec<&[u8]> = tcvn.iter().map(Vec::as_slice).collect();
        assert!(detect(&samples).confidence > 0.99);
        // A mostly-ASCII field with a few legacy values still resolves.
        let mut mixed: Vec<&[u8]> = vec![b"ONT", b"LUC", b"CLN"];
        mixed.extend(&samples[..3]);
        let d = detect(&mixed);
        assert_eq!(d.encoding, LegacyEncoding::Tcvn3, "{d:?}");
        assert_eq!(d.decoded, "ONT");
    }

    #[test]
    fn detect_without_vietnamese_falls_back_to_latin1() {
        let samples: [&[u8]; 2] = [b"\xA9 1998", b"\xB1\xB2\xB3"];
        let d = detect(&samples);
        assert_eq!(d.encoding, LegacyEncoding::Latin1, "{d:?}");
        assert_eq!(d.confidence, 0.0);
    }

    #[test]
    fn restore_case() {
        let shouty = encode_tcvn3_lossy("XÃ TÂN THÀNH").expect("ok");
        let decoded = LegacyEncoding::Tcvn3.decode(&shouty).expect("ok");
        assert_eq!(decoded, "Xã TÂN THàNH");
        assert_eq!(tcvn3_restore_case(&decoded), "XÃ TÂN THÀNH");
        assert_eq!(tcvn3_restore_case("ĐồNG Xoài"), "ĐỒNG Xoài");
        assert_eq!(tcvn3_restore_case("Bà Rịa"), "Bà Rịa");
        assert_eq!(tcvn3_restore_case("đất ở"), "đất ở");
    }

    fn letter_or_space() -> impl Strategy<Value = String> {
        let mut pool = all_letters();
        pool.extend([" ", "n", "g", "h", "t", "N", "G", "H", "T", "q", "r", "x"].map(String::from));
        proptest::sample::select(pool)
    }

    proptest! {
        #[test]
        fn vni_round_trip(parts in proptest::collection::vec(letter_or_space(), 0..40)) {
            let text: String = parts.concat();
            let bytes = encode_vni(&text).expect("every Vietnamese letter is encodable");
            prop_assert_eq!(LegacyEncoding::Vni.decode(&bytes).expect("total"), text);
        }

        #[test]
        fn tcvn3_lossy_round_trip_is_lower_case(parts in proptest::collection::vec(letter_or_space(), 0..40)) {
            let text: String = parts.concat();
            let bytes = encode_tcvn3_lossy(&text).expect("every Vietnamese letter is encodable");
            let back = LegacyEncoding::Tcvn3.decode(&bytes).expect("total");
            prop_assert_eq!(back.to_lowercase(), text.to_lowercase());
        }

        #[test]
        fn decoders_never_panic_and_emit_nfc(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            for encoding in LegacyEncoding::ALL {
                if let Ok(s) = encoding.decode(&bytes) {
                    prop_assert!(is_nfc(&s));
                }
            }
            let _ = detect(&[&bytes]);
        }
    }
}
