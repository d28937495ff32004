// The operator's pages as modules, so they are off unless loaded, as in Prosody:
// `http_openmetrics` (the OpenMetrics endpoint /metrics) and `http_status` (the status page
// /status, for admins). The pages themselves are served by src/ops (wired in src/main.ts);
// these modules say which are on and with which allow list, read from the config here so a bad
// address fails start-up and reload with its file:line. docs/metrics.md.
import { defineModule } from '../core/modules.js';
import { ConfigError } from '../config/errors.js';
import { AllowList } from '../net/allow-list.js';

/** An operator's page a module turned on. */
export type OpsPage =
  /** /metrics for requests from `allow` that did not come through I2P. */
  | { page: 'metrics'; allow: AllowList }
  /** /status for admins; through I2P only with `allowI2p`. */
  | { page: 'status'; allowI2p: boolean };

declare module '../core/items-map.js' {
  interface ItemMap {
    /** An operator's page that is on: offered by http_openmetrics and http_status, read by src/main.ts. */
    'ops-page': OpsPage;
  }
}

export const httpOpenmetrics = defineModule({
  name: 'http_openmetrics',
  setup(ctx) {
    const allow = ctx.option.custom((config) => {
      const ips = config.get<string[]>('openmetrics_allow_ips');
      const cidrs = config.get<string[]>('openmetrics_allow_cidr');
      try {
        return new AllowList(ips, cidrs);
      } catch (err) {
        const option = (err as Error).message.includes('range') ? 'openmetrics_allow_cidr' : 'openmetrics_allow_ips';
        throw ConfigError.at(config.source(option), (err as Error).message, option);
      }
    });
    ctx.provide('ops-page', { page: 'metrics', allow });
  },
});

export const httpStatus = defineModule({
  name: 'http_status',
  setup(ctx) {
    ctx.provide('ops-page', { page: 'status', allowI2p: ctx.option.boolean('http_status_allow_i2p', false) });
  },
});
