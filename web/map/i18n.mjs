// UI strings, Vietnamese first (the default) and English. Text is NFC.

export const STRINGS = {
  vi: {
    title: 'Bản đồ quy hoạch — bando',
    heading: 'Bản đồ quy hoạch',
    commune: 'Xã/phường',
    communeHint: 'mã xã',
    sheet: 'Tờ',
    parcel: 'Thửa',
    find: 'Tìm',
    measureLine: 'Đo khoảng cách',
    measureArea: 'Đo diện tích',
    layers: 'Lớp bản đồ',
    measurement: 'Kết quả đo',
    measureHint: 'Nhấp để thêm đỉnh, nhấp đúp để kết thúc.',
    wgs84: 'WGS84',
    langToggle: 'English',
    length: 'Chiều dài',
    area: 'Diện tích',
    perimeter: 'Chu vi',
    zone: 'Múi chiếu',
    measuredBy: 'Tính bởi',
    measuredServer: 'máy chủ (TM-3)',
    measuredBrowser: 'trình duyệt (TM-3, máy chủ không trả lời)',
    searching: 'Đang tìm…',
    found: (n) => `Tìm thấy ${n} thửa`,
    notFound: 'Không tìm thấy thửa đất này',
    searchUnavailable: 'Máy chủ chưa hỗ trợ tìm thửa',
    noFeatures: 'Không có đối tượng tại đây',
    identifyFailed: 'Không tra cứu được đối tượng',
    styleFallback: 'Kiểu bản đồ chưa có; hiển thị kiểu đơn giản',
    noLayers: 'Chưa có lớp nào',
    lat: 'vĩ độ',
    lon: 'kinh độ',
    yes: 'Có',
    no: 'Không',
    mapLabel: 'Bản đồ',
  },
  en: {
    title: 'Planning map — bando',
    heading: 'Planning map',
    commune: 'Commune',
    communeHint: 'commune code',
    sheet: 'Sheet',
    parcel: 'Parcel',
    find: 'Find',
    measureLine: 'Measure distance',
    measureArea: 'Measure area',
    layers: 'Map layers',
    measurement: 'Measurement',
    measureHint: 'Click to add vertices, double-click to finish.',
    wgs84: 'WGS84',
    langToggle: 'Tiếng Việt',
    length: 'Length',
    area: 'Area',
    perimeter: 'Perimeter',
    zone: 'Projection zone',
    measuredBy: 'Computed by',
    measuredServer: 'server (TM-3)',
    measuredBrowser: 'browser (TM-3, the server did not answer)',
    searching: 'Searching…',
    found: (n) => `Found ${n} parcel${n === 1 ? '' : 's'}`,
    notFound: 'No such parcel',
    searchUnavailable: 'The server does not offer parcel search yet',
    noFeatures: 'Nothing here',
    identifyFailed: 'Could not look up features',
    styleFallback: 'Map style not available; showing a plain style',
    noLayers: 'No layers yet',
    lat: 'lat',
    lon: 'lon',
    yes: 'Yes',
    no: 'No',
    mapLabel: 'Map',
  },
};

/** Sector codes of the layer registry → group titles of the layer tree, when the style does not
 * publish them (`bando:sectors`, from `gis_core::layer::Sector`). */
export const SECTORS = {
  cadastre: { vi: 'Địa chính', en: 'Cadastre' },
  planning: { vi: 'Quy hoạch', en: 'Planning' },
  transport: { vi: 'Giao thông', en: 'Transport' },
  water: { vi: 'Cấp thoát nước', en: 'Water and drainage' },
  power: { vi: 'Điện lực', en: 'Power' },
  environment: { vi: 'Môi trường', en: 'Environment' },
  services: { vi: 'Dịch vụ công', en: 'Public services' },
  health: { vi: 'Y tế', en: 'Health' },
  education: { vi: 'Giáo dục', en: 'Education' },
  tourism: { vi: 'Du lịch', en: 'Tourism' },
};

/** Order of the sector groups in the tree (others follow alphabetically). */
export const SECTOR_ORDER = Object.keys(SECTORS);

/**
 * Titles of the properties the layers publish, used when the server does not send its own.
 * Unknown keys are shown as they are.
 */
export const PROPERTY_TITLES = {
  parcel_number: { vi: 'Số thửa', en: 'Parcel number' },
  sheet_number: { vi: 'Số tờ bản đồ', en: 'Map sheet number' },
  commune_code: { vi: 'Mã xã', en: 'Commune code' },
  land_use_code: { vi: 'Mã loại đất', en: 'Land-use code' },
  legal_area_m2: { vi: 'Diện tích pháp lý (m²)', en: 'Legal area (m²)' },
  declared_area_m2: { vi: 'Diện tích kê khai (m²)', en: 'Declared area (m²)' },
  address: { vi: 'Địa chỉ', en: 'Address' },
  place_name: { vi: 'Xứ đồng', en: 'Place name' },
  certificate_issued: { vi: 'Đã cấp GCN', en: 'Certificate issued' },
  code: { vi: 'Mã', en: 'Code' },
  name: { vi: 'Tên', en: 'Name' },
  legacy_code: { vi: 'Mã cũ', en: 'Former code' },
  legacy_name: { vi: 'Tên cũ', en: 'Former name' },
  legacy_district: { vi: 'Huyện cũ', en: 'Former district' },
  province_code: { vi: 'Mã tỉnh', en: 'Province code' },
  scale: { vi: 'Tỷ lệ', en: 'Scale' },
  zone_code: { vi: 'Mã ô quy hoạch', en: 'Zone code' },
  land_use_function: { vi: 'Chức năng sử dụng đất', en: 'Land-use function' },
  density_pct: { vi: 'Mật độ xây dựng (%)', en: 'Building density (%)' },
  max_floors: { vi: 'Tầng cao tối đa', en: 'Maximum floors' },
  max_height_m: { vi: 'Chiều cao tối đa (m)', en: 'Maximum height (m)' },
  setback_m: { vi: 'Khoảng lùi (m)', en: 'Setback (m)' },
  decision_number: { vi: 'Số quyết định', en: 'Decision number' },
  decision_date: { vi: 'Ngày quyết định', en: 'Decision date' },
  diameter_mm: { vi: 'Đường kính (mm)', en: 'Diameter (mm)' },
  material: { vi: 'Vật liệu', en: 'Material' },
  voltage_kv: { vi: 'Điện áp (kV)', en: 'Voltage (kV)' },
  status: { vi: 'Tình trạng', en: 'Status' },
  kind: { vi: 'Loại', en: 'Kind' },
};

/** The language in force: URL `lang=` (hash or query), then the stored choice, then Vietnamese. */
export function initialLang() {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get('lang') ??
    new URLSearchParams(location.search).get('lang');
  if (fromUrl === 'vi' || fromUrl === 'en') return fromUrl;
  try {
    const stored = localStorage.getItem('bando.lang');
    if (stored === 'vi' || stored === 'en') return stored;
  } catch { /* storage may be disabled */ }
  return 'vi';
}
