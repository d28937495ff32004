// Presence subscription states and what each subscription stanza does to them: pure functions,
// no I/O. References: RFC 6121 §3 and Appendix A (the state tables), §3.4 (pre-approval).
//
// A state is the roster item's subscription plus three flags: pending-out (ask), pending-in (a
// stored request from the contact) and pre-approved. "User" is the account whose roster this
// is; "contact" is the other party.

export type Subscription = 'none' | 'to' | 'from' | 'both';
export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

export const SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set<SubscriptionType>(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed']);

export interface SubState {
  subscription: Subscription;
  /** Pending out: the user asked for the contact's presence. */
  out: boolean;
  /** Pending in: the contact asked for the user's presence. */
  in: boolean;
  /** The user pre-approved a request from the contact. */
  approved: boolean;
}

export interface Outcome {
  next: SubState;
  /** Outbound: route the stanza to the contact. Inbound: deliver it to the user's available resources. */
  pass: boolean;
  /** Inbound subscribe that is already (or pre-) approved: answer `subscribed` for the user. */
  autoReply?: boolean;
  /** The contact may now see the user: send the user's current presence to the contact (§3.1.5). */
  sendPresence?: boolean;
  /** The contact may no longer see the user: send unavailable from each available resource (§3.2, §3.3). */
  sendUnavailable?: boolean;
}

const hasTo = (s: Subscription): boolean => s === 'to' || s === 'both';
const hasFrom = (s: Subscription): boolean => s === 'from' || s === 'both';
const addTo = (s: Subscription): Subscription => (s === 'none' ? 'to' : s === 'from' ? 'both' : s);
const removeTo = (s: Subscription): Subscription => (s === 'to' ? 'none' : s === 'both' ? 'from' : s);
const addFrom = (s: Subscription): Subscription => (s === 'none' ? 'from' : s === 'to' ? 'both' : s);
const removeFrom = (s: Subscription): Subscription => (s === 'from' ? 'none' : s === 'both' ? 'to' : s);

/** A subscription stanza the user sends to the contact (Appendix A.2, §3.4.1). */
export function outbound(type: SubscriptionType, s: SubState): Outcome {
  switch (type) {
    case 'subscribe':
      // Always routed, whatever the state: the contact's server answers for itself and this is
      // how a user resynchronises a subscription the two servers disagree about (§3.1.2).
      return { next: hasTo(s.subscription) ? s : { ...s, out: true }, pass: true };
    case 'unsubscribe':
      return { next: { ...s, subscription: removeTo(s.subscription), out: false }, pass: true };
    case 'subscribed':
      if (hasFrom(s.subscription)) return { next: { ...s, in: false, approved: false }, pass: false };
      if (s.in) {
        return { next: { ...s, subscription: addFrom(s.subscription), in: false, approved: false }, pass: true, sendPresence: true };
      }
      // No request to approve: remember the approval for when one comes (§3.4.1).
      return { next: { ...s, approved: true }, pass: false };
    case 'unsubscribed':
      if (hasFrom(s.subscription)) {
        return { next: { ...s, subscription: removeFrom(s.subscription), in: false, approved: false }, pass: true, sendUnavailable: true };
      }
      if (s.in) return { next: { ...s, in: false, approved: false }, pass: true };
      // Nothing to cancel but a pre-approval, if any (Appendix A.2.4, note 1).
      return { next: { ...s, approved: false }, pass: false };
  }
}

/** A subscription stanza the contact sends to the user (Appendix A.3, §3.4.2). */
export function inbound(type: SubscriptionType, s: SubState): Outcome {
  switch (type) {
    case 'subscribe':
      if (hasFrom(s.subscription)) return { next: s, pass: false, autoReply: true };
      if (s.approved) {
        return { next: { ...s, subscription: addFrom(s.subscription), in: false, approved: false }, pass: false, autoReply: true, sendPresence: true };
      }
      if (s.in) return { next: s, pass: false };
      return { next: { ...s, in: true }, pass: true };
    case 'unsubscribe':
      if (hasFrom(s.subscription)) return { next: { ...s, subscription: removeFrom(s.subscription), in: false }, pass: true, sendUnavailable: true };
      if (s.in) return { next: { ...s, in: false }, pass: true };
      return { next: s, pass: false };
    case 'subscribed':
      if (s.out && !hasTo(s.subscription)) return { next: { ...s, subscription: addTo(s.subscription), out: false }, pass: true };
      return { next: s, pass: false };
    case 'unsubscribed':
      if (s.out || hasTo(s.subscription)) return { next: { ...s, subscription: removeTo(s.subscription), out: false }, pass: true };
      return { next: s, pass: false };
  }
}

/** RFC 6121's name for a state ("None + Pending Out/In", "Both", …), for tests and logs. */
export function stateName(s: SubState): string {
  const base = s.subscription === 'none' ? 'None' : s.subscription === 'to' ? 'To' : s.subscription === 'from' ? 'From' : 'Both';
  const pending = s.out && s.in ? 'Pending Out/In' : s.out ? 'Pending Out' : s.in ? 'Pending In' : '';
  return [base, pending, s.approved ? 'Pre-Approved' : ''].filter(Boolean).join(' + ');
}
