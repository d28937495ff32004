// What is kept of a subscription request (src/modules/presence/subscription-request.ts): XML in, XML out.
import { describe, expect, it } from 'vitest';
import { stanza } from '../../helpers/stanza.js';
import { MAX_REQUEST_STATUS_BYTES, storedRequest, truncateUtf8 } from '../../../src/modules/presence/subscription-request.js';

describe('storedRequest', () => {
  it('keeps sender, id, status and nick, and nothing else', () => {
    const req = stanza(`<presence type='subscribe' id='s1' from='eve@x.example/r' to='bob@localhost' xml:lang='en'>` +
      `<status>hi</status><status xml:lang='de'>hallo</status><nick xmlns='http://jabber.org/protocol/nick'>Eve</nick>` +
      `<junk xmlns='urn:example'>${'j'.repeat(1000)}</junk><priority>5</priority></presence>`);
    expect(storedRequest(req, 'eve@x.example', 'bob@localhost').toString()).toBe(
      `<presence from="eve@x.example" to="bob@localhost" type="subscribe" id="s1"><status>hi</status><nick xmlns="http://jabber.org/protocol/nick">Eve</nick></presence>`);
  });

  it('cuts a long status at a character boundary and leaves out a long id', () => {
    const req = stanza(`<presence type='subscribe' id='${'i'.repeat(300)}'><status>${'é'.repeat(2000)}</status></presence>`);
    const kept = storedRequest(req, 'eve@x.example', 'bob@localhost');
    expect(kept.attrs.id).toBeUndefined();
    const status = kept.getChildText('status') as string;
    expect(Buffer.byteLength(status)).toBe(MAX_REQUEST_STATUS_BYTES);
    expect(status).toBe('é'.repeat(MAX_REQUEST_STATUS_BYTES / 2));
  });

  it('truncateUtf8 never splits a character', () => {
    expect(truncateUtf8('aé', 2)).toBe('a');
    expect(truncateUtf8('💡💡', 5)).toBe('💡');
    expect(truncateUtf8('short', 100)).toBe('short');
  });
});
