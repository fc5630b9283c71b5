// The live feed (`/feeds/stream`) read with fetch rather than EventSource, because
// EventSource cannot send the operator's `Authorization` header. Same protocol: messages
// `id`/`event`/`data`, and on reconnect `Last-Event-ID` so nothing is missed. A stream silent for
// longer than three heartbeats is treated as dead and reopened.

const SILENCE_MS = 45_000;

function parse(block) {
  const msg = { id: null, event: 'message', data: '' };
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'id') msg.id = value;
    else if (field === 'event') msg.event = value;
    else if (field === 'data') data.push(value);
  }
  if (!data.length) return null;
  try {
    msg.data = JSON.parse(data.join('\n'));
  } catch {
    return null;
  }
  return msg;
}

/**
 * Follows the feed until stopped: `onMessage({id, event, data})` for each message,
 * `onState('connecting'|'open'|'reconnecting'|'error')` as the connection changes.
 */
export function followFeed({ url = '/feeds/stream', token = () => null, onMessage, onState }) {
  let lastId = null;
  let stopped = false;
  let controller = null;
  let watchdog = null;
  const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
  const alive = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => controller?.abort(), SILENCE_MS);
  };
  (async () => {
    let delay = 1000;
    onState('connecting');
    while (!stopped) {
      controller = new AbortController();
      const headers = { accept: 'text/event-stream' };
      const t = token();
      if (t) headers.authorization = `Bearer ${t}`;
      if (lastId !== null) headers['last-event-id'] = lastId;
      try {
        const response = await fetch(url, { headers, signal: controller.signal, cache: 'no-store' });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        onState('open');
        delay = 1000;
        alive();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          alive();
          buf += value.replace(/\r\n?/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const msg = parse(buf.slice(0, i));
            buf = buf.slice(i + 2);
            if (!msg) continue;
            if (msg.id !== null) lastId = msg.id;
            onMessage(msg);
          }
        }
      } catch (e) {
        if (stopped) return;
        onState('error', e);
      }
      clearTimeout(watchdog);
      if (stopped) return;
      onState('reconnecting');
      await sleep(delay);
      delay = Math.min(delay * 2, 15_000);
    }
  })();
  return {
    stop() {
      stopped = true;
      clearTimeout(watchdog);
      controller?.abort();
    },
  };
}
