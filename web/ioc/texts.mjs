// The display's strings, Vietnamese first (the default) and English. Text is NFC.

export const STRINGS = {
  vi: {
    title: 'Trung tâm điều hành — bando',
    heading: 'Trung tâm điều hành thông minh',
    alerts: 'Sự kiện và cảnh báo',
    alertsSignIn: 'Đăng nhập với vai trò vận hành IOC để xem sự kiện.',
    noAlerts: 'Không có sự kiện nào đang mở',
    readings: 'Số đo mới nhất',
    station: 'Trạm',
    quantity: 'Đại lượng',
    value: 'Giá trị',
    age: 'Tuổi dữ liệu',
    signIn: 'Đăng nhập',
    langToggle: 'English',
    acknowledge: 'Xác nhận',
    close: 'Đóng',
    cleared: 'đã hết',
    open: 'Trực tuyến',
    connecting: 'Đang kết nối…',
    reconnecting: 'Mất kết nối, đang kết nối lại…',
    error: 'Lỗi kết nối',
    noData: 'chưa có',
    stale: 'quá hạn',
    status: { ok: 'Bình thường', warning: 'Cảnh báo', alarm: 'Báo động', no_data: 'Chưa có số liệu' },
    severity: { info: 'Thông tin', warning: 'Cảnh báo', alarm: 'Báo động', critical: 'Khẩn cấp' },
    eventStatus: { open: 'Mới', acknowledged: 'Đã xác nhận', closed: 'Đã đóng' },
    ago: (s) => (s < 60 ? `${s} giây` : s < 3600 ? `${Math.floor(s / 60)} phút` : `${Math.floor(s / 3600)} giờ`),
    actionFailed: 'Không thực hiện được',
    rules: 'Quy tắc cảnh báo',
    ruleKindHeading: 'Loại',
    severityHeading: 'Mức độ',
    levels: 'Ngưỡng báo → hết',
    ruleTitle: 'Nội dung',
    ruleTitleEn: 'Nội dung (tiếng Anh)',
    ruleDatastream: 'Chỉ cho luồng dữ liệu (mã; trống: mọi trạm)',
    newRule: 'Thêm quy tắc',
    kindThreshold: 'Ngưỡng',
    kindRate: 'Tốc độ thay đổi (mỗi giờ)',
    kindMissing: 'Mất dữ liệu (phút)',
    severityWarning: 'Cảnh báo',
    severityAlarm: 'Báo động',
    direction: 'Hướng',
    above: 'Vượt lên trên',
    below: 'Xuống dưới',
    raiseAt: 'Ngưỡng báo',
    clearAt: 'Ngưỡng hết',
    enabled: 'Đang dùng',
    save: 'Lưu',
    cancel: 'Huỷ',
    edit: 'Sửa',
    delete: 'Xoá',
    confirmDelete: 'Xoá thật?',
    ruleRefused: 'Không lưu được quy tắc',
    ruleDisabled: 'Quy tắc đang tắt',
    ruleKind: { threshold: 'Ngưỡng', rate: 'Tốc độ', missing: 'Mất dữ liệu' },
  },
  en: {
    title: 'Operations centre — bando',
    heading: 'Intelligent operations centre',
    alerts: 'Events and alerts',
    alertsSignIn: 'Sign in as an IOC operator to see events.',
    noAlerts: 'No open events',
    readings: 'Latest readings',
    station: 'Station',
    quantity: 'Quantity',
    value: 'Value',
    age: 'Data age',
    signIn: 'Sign in',
    langToggle: 'Tiếng Việt',
    acknowledge: 'Acknowledge',
    close: 'Close',
    cleared: 'cleared',
    open: 'Live',
    connecting: 'Connecting…',
    reconnecting: 'Connection lost, reconnecting…',
    error: 'Connection error',
    noData: 'none yet',
    stale: 'stale',
    status: { ok: 'Normal', warning: 'Warning', alarm: 'Alarm', no_data: 'No data' },
    severity: { info: 'Information', warning: 'Warning', alarm: 'Alarm', critical: 'Critical' },
    eventStatus: { open: 'New', acknowledged: 'Acknowledged', closed: 'Closed' },
    ago: (s) => (s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h`),
    actionFailed: 'Could not do it',
    rules: 'Alert rules',
    ruleKindHeading: 'Kind',
    severityHeading: 'Severity',
    levels: 'Raise → clear at',
    ruleTitle: 'Title',
    ruleTitleEn: 'Title (English)',
    ruleDatastream: 'Only for datastream (id; empty: every station)',
    newRule: 'Add a rule',
    kindThreshold: 'Threshold',
    kindRate: 'Rate of change (per hour)',
    kindMissing: 'Missing data (minutes)',
    severityWarning: 'Warning',
    severityAlarm: 'Alarm',
    direction: 'Direction',
    above: 'Above',
    below: 'Below',
    raiseAt: 'Raise at',
    clearAt: 'Clear at',
    enabled: 'Enabled',
    save: 'Save',
    cancel: 'Cancel',
    edit: 'Edit',
    delete: 'Delete',
    confirmDelete: 'Really delete?',
    ruleRefused: 'The rule was not saved',
    ruleDisabled: 'This rule is off',
    ruleKind: { threshold: 'Threshold', rate: 'Rate', missing: 'Missing data' },
  },
};

/** The language in use: `?lang=en`, else what was chosen before, else Vietnamese. */
export function initialLanguage() {
  const asked = new URLSearchParams(location.search).get('lang');
  if (asked === 'en' || asked === 'vi') return asked;
  return localStorage.getItem('bando.lang') === 'en' ? 'en' : 'vi';
}

/** Applies `lang` to the static texts (`data-i18n`) and the toggle. */
export function applyLanguage(lang) {
  const t = STRINGS[lang];
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) {
    const v = t[el.dataset.i18n];
    if (typeof v === 'string') el.textContent = v;
  }
  const toggle = document.getElementById('lang-toggle');
  toggle.textContent = t.langToggle;
  toggle.lang = lang === 'vi' ? 'en' : 'vi';
  localStorage.setItem('bando.lang', lang);
  return t;
}
