// The "reload configuration" admin command: the same reload as SIGHUP (src/core/reload.ts),
// answered with what changed, what was applied and what waits for a restart.
// References: XEP-0050 (notes), XEP-0004 (the result form).
import type { ModuleContext } from '../../core/modules.js';
import type { ReloadOutcome } from '../../core/reload.js';
import { NS } from '../../xml/ns.js';
import { formElement } from './dataforms.js';
import type { CommandOutcome } from './adhoc.js';

/** Ask the server to reload its config file; `who` is the administrator, for the log. */
export async function reloadConfig(ctx: Pick<ModuleContext, 'fire'>, who: string): Promise<CommandOutcome> {
  const outcome = (await ctx.fire('config-reload-requested', { via: `reload command from ${who}` })) as ReloadOutcome | undefined;
  if (!outcome) return { noteType: 'error', note: 'This server cannot reload its configuration while it runs.' };
  const { file, error, changed, later, warnings, report } = outcome;
  if (error) return { noteType: 'error', note: `${error}. Nothing was applied: the server keeps its running configuration.` };
  const applied = changed.filter((c) => !later.includes(c));
  const payload = formElement('result', {
    formType: NS.ADMIN,
    fields: [
      { var: 'file', type: 'text-single', label: 'Config file', values: [file] },
      { var: 'changed', type: 'text-multi', label: 'Differs from the running configuration', values: changed },
      { var: 'applied', type: 'text-multi', label: 'Applied now', values: applied },
      { var: 'restart', type: 'text-multi', label: 'Applied after a restart', values: later },
      { var: 'modules', type: 'text-multi', label: 'Modules loaded and unloaded', values: report.modules },
      { var: 'errors', type: 'text-multi', label: 'Could not be applied', values: report.errors },
      { var: 'warnings', type: 'text-multi', label: 'Warnings', values: warnings },
    ],
  });
  const valid = `${file} is valid${warnings.length ? ` (${warnings.length} warning(s))` : ''}`;
  const certs = report.certificates.length ? ` New certificate for ${report.certificates.join(', ')}.` : '';
  if (report.errors.length) return { payload, noteType: 'error', note: `${valid}, but not everything could be applied: ${report.errors.join('; ')}.${certs}` };
  if (changed.length === 0 && later.length === 0) return { payload, note: `${valid} and matches the running configuration: nothing to apply.${certs}` };
  if (later.length === 0) return { payload, note: `${valid}; applied: ${applied.join(', ')}.${certs}` };
  return {
    payload,
    noteType: 'warn',
    note: `${valid}; ${applied.length ? `applied: ${applied.join(', ')}; ` : ''}these apply after a restart (clove restart): ${later.join(', ')}.${certs}`,
  };
}
