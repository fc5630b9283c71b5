//! Realistic attribute values: owner names, addresses, land-use codes (TT 27/2018/TT-BTNMT),
//! notes. All drawn from a [`SampleRng`], so they are a pure function of the seed.

use super::region::Commune;
use super::SampleRng;

impl SampleRng {
    /// A value in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_f64() * n as f64) as usize).min(n.saturating_sub(1))
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// One item of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// One item of a non-empty slice of (item, weight).
    pub fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.next_f64() * f64::from(total);
        for &(item, w) in items {
            x -= f64::from(w);
            if x < 0.0 {
                return item;
            }
        }
        items[items.len() - 1].0
    }
}

/// Family names with rough national frequencies (Nguyễn ≈ 38 %).
const FAMILY: [(&str, u32); 16] = [
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9),
    ("Phạm", 7),
    ("Hoàng", 5),
    ("Huỳnh", 5),
    ("Phan", 4),
    ("Vũ", 4),
    ("Võ", 4),
    ("Đặng", 2),
    ("Bùi", 2),
    ("Đỗ", 2),
    ("Hồ", 2),
    ("Ngô", 2),
    ("Dương", 1),
    ("Lý", 1),
];
const MIDDLE_MALE: [&str; 8] = ["Văn", "Hữu", "Đức", "Minh", "Thanh", "Quốc", "Công", "Văn"];
const MIDDLE_FEMALE: [&str; 7] = ["Thị", "Thị", "Ngọc", "Thanh", "Minh", "Thu", "Kim"];
const GIVEN_MALE: [&str; 18] = [
    "An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khánh", "Long", "Minh", "Phúc", "Quang", "Sơn",
    "Tuấn", "Thắng", "Việt", "Hiếu", "Nam", "Tài",
];
const GIVEN_FEMALE: [&str; 17] = [
    "Hà", "Hạnh", "Hương", "Lan", "Nga", "Thảo", "Trang", "Vy", "Yến", "Mai", "Linh", "Hoa",
    "Hằng", "Ngân", "Phương", "Nhung", "Tuyết",
];

/// A full name, and whether it is a woman's.
fn person(rng: &mut SampleRng) -> (String, bool) {
    let family = rng.weighted(&FAMILY);
    let female = rng.chance(0.45);
    let (middle, given) = if female {
        (rng.pick(&MIDDLE_FEMALE), rng.pick(&GIVEN_FEMALE))
    } else {
        (rng.pick(&MIDDLE_MALE), rng.pick(&GIVEN_MALE))
    };
    (format!("{family} {middle} {given}"), female)
}

const COMPANIES: [&str; 6] = [
    "Công ty TNHH Cao su Phú Riềng",
    "Công ty CP Xây dựng Bình Phước",
    "Công ty TNHH Thương mại Tân Phú",
    "Công ty CP Điều Đồng Phú",
    "Công ty TNHH Gỗ Tiến Hưng",
    "Doanh nghiệp tư nhân Hồng Phát",
];

/// Land-use codes that belong to the state: the owner is the commune, often left blank.
fn is_state(code: &str) -> bool {
    matches!(
        code,
        "TSC" | "DGD" | "DYT" | "DVH" | "DTT" | "NTD" | "DTL" | "DSH" | "DKV"
    )
}

/// Owner (chủ sử dụng) for a parcel with land-use `code`; empty for a few state parcels.
pub(super) fn owner(rng: &mut SampleRng, code: &str, commune: &Commune) -> String {
    if is_state(code) {
        return if rng.chance(0.5) {
            String::new()
        } else {
            format!("UBND {}", commune.name)
        };
    }
    if matches!(code, "TMD" | "SKC") && rng.chance(0.4) {
        return rng.pick(&COMPANIES).to_string();
    }
    let (name, female) = person(rng);
    let x = rng.next_f64();
    if x < 0.6 {
        name
    } else if x < 0.85 {
        // Household certificates name the head of household.
        format!("Hộ {} {name}", if female { "bà" } else { "ông" })
    } else {
        let (spouse, _) = person(rng);
        format!("{name} và {spouse}")
    }
}

/// Address: hamlet (ấp) in a rural commune, quarter (khu phố) in a ward.
pub(super) fn address(rng: &mut SampleRng, commune: &Commune) -> String {
    let group = 1 + rng.below(12);
    let hamlet = 1 + rng.below(8);
    let kind = if commune.is_ward() {
        "Khu phố"
    } else {
        "Ấp"
    };
    format!("Tổ {group}, {kind} {hamlet}, {}", commune.name)
}

/// Land use in wards: urban residential dominates, rubber and cashew (CLN) remain.
const LANDUSE_WARD: [(&str, u32); 15] = [
    ("ODT", 42),
    ("CLN", 14),
    ("BHK", 7),
    ("TMD", 8),
    ("LUC", 3),
    ("NTS", 2),
    ("SKC", 4),
    ("DGD", 3),
    ("DYT", 1),
    ("TSC", 2),
    ("DVH", 1),
    ("DTT", 1),
    ("NTD", 1),
    ("TON", 1),
    ("DKV", 1),
];

/// Land use in rural communes: perennial crops (rubber, cashew, pepper) dominate Binh Phuoc.
const LANDUSE_COMMUNE: [(&str, u32); 16] = [
    ("ONT", 24),
    ("CLN", 38),
    ("BHK", 10),
    ("LUC", 6),
    ("LUK", 2),
    ("NTS", 4),
    ("RSX", 4),
    ("SKC", 2),
    ("TMD", 2),
    ("DGD", 1),
    ("DYT", 1),
    ("TSC", 1),
    ("NTD", 1),
    ("DTL", 1),
    ("DSH", 1),
    ("TON", 1),
];

/// A land-use code (TT 27/2018) for a non-road parcel.
pub(super) fn landuse(rng: &mut SampleRng, commune: &Commune) -> &'static str {
    if commune.is_ward() {
        rng.weighted(&LANDUSE_WARD)
    } else {
        rng.weighted(&LANDUSE_COMMUNE)
    }
}

const NOTES: [&str; 9] = [
    "Đất trồng cao su",
    "Đất trồng điều",
    "Đang thế chấp tại ngân hàng",
    "Tranh chấp ranh giới",
    "Đo đạc lại năm 2019",
    "Chuyển mục đích sử dụng năm 2021",
    "Thửa đất có nhà ở",
    "Giao đất có thu tiền sử dụng đất",
    "Chưa kê khai đăng ký",
];

/// A free note (GHICHU), empty two times in three.
pub(super) fn note(rng: &mut SampleRng) -> &'static str {
    if rng.chance(0.65) {
        ""
    } else {
        rng.pick(&NOTES)
    }
}

/// A planned function (a code of `planning.zone_functions`, the working list after TT 04/2022,
/// as planners' deliveries carry it — not a land-use code read through the list's aliases)
/// with its rules: (code, building density %, floors min, floors max, setback m).
pub(super) type ZoneRule = (&'static str, u32, u32, u32, f64);

/// Planned functions in wards, with weights.
pub(super) const ZONE_WARD: [(ZoneRule, u32); 11] = [
    (("OM", 70, 3, 7, 3.0), 25),
    (("OHT", 80, 2, 5, 3.0), 15),
    (("TMDV", 50, 5, 15, 6.0), 12),
    (("HH", 60, 5, 12, 6.0), 4),
    (("GD", 35, 3, 4, 6.0), 6),
    (("YT", 35, 3, 5, 6.0), 4),
    (("VH", 30, 2, 3, 6.0), 3),
    (("TDTT", 20, 1, 2, 6.0), 3),
    (("CX", 5, 1, 1, 3.0), 8),
    (("CN", 60, 2, 3, 6.0), 6),
    (("CQ", 40, 3, 5, 6.0), 3),
];

/// Planned functions in rural communes (farmland with and without farm buildings).
pub(super) const ZONE_COMMUNE: [(ZoneRule, u32); 7] = [
    (("O", 60, 2, 3, 3.0), 30),
    (("NN", 5, 1, 1, 0.0), 40),
    (("NN", 0, 0, 0, 0.0), 8),
    (("CN", 60, 2, 3, 6.0), 6),
    (("GD", 35, 2, 3, 6.0), 4),
    (("YT", 35, 2, 3, 6.0), 2),
    (("TMDV", 50, 2, 5, 6.0), 4),
];

/// Street-light lamp types.
pub(super) const LAMPS: [&str; 3] = ["Đèn LED", "Đèn cao áp Natri", "Đèn năng lượng mặt trời"];
