// Entity time of the server. References: XEP-0202, XEP-0082 (date and time profiles).
// Always UTC with offset +00:00: the server's time zone says where it probably is, which an
// I2P server keeps to itself. Whole seconds only; the clock is still the host's clock, so an
// operator who worries about clock-skew fingerprinting can disable the module
// (modules_disabled = { "time" }).
import { x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { defineModule } from '../core/modules.js';

/** Now as an XEP-0082 DateTime in UTC, without fractions of a second. */
export function utcNow(now = new Date()): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z');
}

export default defineModule({
  name: 'time',
  setup(ctx) {
    ctx.feature(NS.TIME);
    ctx.iq('get', 'host', NS.TIME, 'time', () => x('time', { xmlns: NS.TIME }, x('tzo', null, '+00:00'), x('utc', null, utcNow())));
  },
});
