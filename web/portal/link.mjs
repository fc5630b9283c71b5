// The portal's state in the address: #parcel=ID[&lang=en]. A sheet's link is shareable.
export function readLink() {
  const params = new URLSearchParams(location.hash.slice(1));
  const id = Number(params.get('parcel'));
  return { parcel: Number.isInteger(id) && id > 0 ? id : null, lang: params.get('lang') === 'en' ? 'en' : 'vi' };
}

export function writeLink({ parcel, lang }) {
  const params = new URLSearchParams();
  if (parcel) params.set('parcel', String(parcel));
  if (lang === 'en') params.set('lang', 'en');
  history.replaceState(null, '', `${location.pathname}${params.size ? '#' + params : ''}`);
}

/** The absolute shareable address of a parcel's sheet. */
export function sheetLink(parcel, lang) {
  return `${location.origin}/portal#parcel=${parcel}${lang === 'en' ? '&lang=en' : ''}`;
}
