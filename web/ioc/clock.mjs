// The wall clock (local time, seconds) and a tick for everything that shows an age.

export function startClock(el, onTick) {
  const tick = () => {
    const now = new Date();
    el.dateTime = now.toISOString();
    el.textContent = now.toLocaleTimeString(document.documentElement.lang, { hour12: false });
    onTick?.();
  };
  tick();
  return setInterval(tick, 1000);
}
