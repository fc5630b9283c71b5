// The portal's own words, Vietnamese first and English. No data title lives here: names of
// land uses, zones and plans come from the server.
export const TEXTS = {
  vi: {
    title: 'Thông tin quy hoạch — bando', heading: 'Tra cứu thông tin quy hoạch',
    byParcel: 'Theo số tờ, số thửa', commune: 'Xã/phường (tên hoặc mã, trước hoặc sau sáp nhập)',
    sheet: 'Tờ bản đồ số', number: 'Thửa đất số', find: 'Tra cứu', byPlace: 'Theo địa danh',
    place: 'Tên xã, phường (có hoặc không dấu)', byCoords: 'Theo tọa độ',
    byAddress: 'Theo địa chỉ', address: 'Số nhà, đường, phường/xã (có hoặc không dấu)',
    coordA: 'Vĩ độ hoặc X (VN-2000)', coordB: 'Kinh độ hoặc Y (VN-2000)',
    searching: 'Đang tra cứu…', none: 'Không tìm thấy thửa đất nào.', found: 'Kết quả',
    old: 'cũ', parcelLabel: 'Tờ {sheet}, thửa {number}', communesFound: 'Các xã, phường phù hợp — nhập tờ và thửa:',
    zoneSaid: 'Tọa độ VN-2000 đọc theo múi {zone} (EPSG:{srid}).', wgs84: 'Tọa độ WGS84 (độ).',
    sheetTitle: 'Phiếu thông tin quy hoạch thửa đất', identity: 'Thửa đất', area: 'Diện tích (m²)',
    landUse: 'Loại đất hiện trạng', plans: 'Quy hoạch đang có hiệu lực', decision: 'Quyết định',
    noPlan: 'Chưa có quy hoạch được phê duyệt tại thửa này.', zones: 'Chức năng quy hoạch',
    zone: 'Ô quy hoạch', fn: 'Chức năng', share: 'Diện tích (m²)', pct: 'Tỷ lệ (%)',
    density: 'Mật độ XD (%)', floors: 'Tầng cao tối đa', height: 'Chiều cao tối đa (m)',
    setback: 'Khoảng lùi (m)', far: 'Hệ số SDĐ (lần)', unplanned: 'Diện tích ngoài ô quy hoạch (m²)',
    redLine: 'Diện tích bị chỉ giới đường đỏ cắt (m²)', buildingLine: 'Diện tích ngoài chỉ giới xây dựng (m²)',
    dataDate: 'Dữ liệu có giá trị đến ngày', share_link: 'Liên kết chia sẻ phiếu này', openMap: 'Xem trên bản đồ quy hoạch', pdf: 'Tải phiếu in (PDF)',
    error: 'Lỗi', lang: 'English', documents: 'Văn bản',
    buildings: 'Công trình xây dựng trên thửa đất', building: 'Công trình', buildingStatus: 'Hiện trạng / quy hoạch',
    buildingFloors: 'Số tầng', buildingHeight: 'Chiều cao (m)', onParcel: 'Diện tích trên thửa (m²)', existing: 'Hiện trạng', planned: 'Theo quy hoạch',
    unknown: '—', noBuildings: 'Không có công trình trên thửa đất.',
    readings: 'Số đo mới nhất của các trạm quan trắc',
  },
  en: {
    title: 'Planning information — bando', heading: 'Planning information lookup',
    byParcel: 'By map sheet and parcel number', commune: 'Commune (name or code, before or after the merger)',
    sheet: 'Map sheet', number: 'Parcel number', find: 'Search', byPlace: 'By place name',
    place: 'Commune name (with or without accents)', byCoords: 'By coordinates',
    byAddress: 'By address', address: 'House number, street, ward (with or without accents)',
    coordA: 'Latitude or X (VN-2000)', coordB: 'Longitude or Y (VN-2000)',
    searching: 'Searching…', none: 'No parcel found.', found: 'Results',
    old: 'former', parcelLabel: 'Sheet {sheet}, parcel {number}', communesFound: 'Matching communes — enter sheet and parcel:',
    zoneSaid: 'VN-2000 coordinates read in zone {zone} (EPSG:{srid}).', wgs84: 'WGS84 coordinates (degrees).',
    sheetTitle: 'Parcel planning information sheet', identity: 'Parcel', area: 'Area (m²)',
    landUse: 'Current land use', plans: 'Plans in force', decision: 'Decision',
    noPlan: 'No approved plan covers this parcel.', zones: 'Planned functions',
    zone: 'Zone', fn: 'Function', share: 'Area (m²)', pct: 'Share (%)',
    density: 'Building density (%)', floors: 'Max floors', height: 'Max height (m)',
    setback: 'Setback (m)', far: 'Floor area ratio', unplanned: 'Area outside planning zones (m²)',
    redLine: 'Area cut by red lines (m²)', buildingLine: 'Area beyond building lines (m²)',
    dataDate: 'Data valid as of', share_link: 'Shareable link to this sheet', openMap: "Open in the planners' map", pdf: 'Download the printable sheet (PDF)',
    error: 'Error', lang: 'Tiếng Việt', documents: 'Documents',
    buildings: 'Buildings on the parcel', building: 'Building', buildingStatus: 'Existing or planned',
    buildingFloors: 'Floors', buildingHeight: 'Height (m)', onParcel: 'Area on the parcel (m²)', existing: 'Existing', planned: 'Planned',
    unknown: '—', noBuildings: 'No building on the parcel.',
    readings: 'Latest readings of the monitoring stations',
  },
};

/** The words of `lang`, with `{name}` filled from `values`. */
export function say(lang, key, values = {}) {
  const text = TEXTS[lang]?.[key] ?? TEXTS.vi[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ''));
}
