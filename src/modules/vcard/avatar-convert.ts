// Conversion between the vCard avatar (XEP-0153: vCard PHOTO with TYPE and base64 BINVAL) and the
// PEP user avatar (XEP-0084: an item of urn:xmpp:avatar:data holding the base64 bytes, and an item
// of urn:xmpp:avatar:metadata with <info id bytes type/>, both with id = SHA-1 hex of the bytes).
// Reference: XEP-0398 (User Avatar to vCard-Based Avatars Conversion).
import { createHash } from 'node:crypto';
import { x, type Element } from '../../xml/element.js';

export const NS_AVATAR_DATA = 'urn:xmpp:avatar:data';
export const NS_AVATAR_METADATA = 'urn:xmpp:avatar:metadata';

/** An avatar both formats can carry. */
export interface Avatar {
  /** SHA-1 hex of the image bytes: the item id in both nodes and the XEP-0153 hash. */
  readonly id: string;
  readonly bytes: number;
  /** MIME type ('image/png' when the vCard does not say, the type XEP-0084 requires support for). */
  readonly type: string;
  /** The image, base64 without line breaks. */
  readonly base64: string;
}

/** What a vCard says of its avatar: one, none, or one that cannot be read (with why). */
export type VcardPhoto = { kind: 'avatar'; avatar: Avatar } | { kind: 'none' } | { kind: 'invalid'; why: string };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The bytes of strict base64 (line breaks and spaces allowed, as vCards fold it); undefined when it is not base64. */
export function decodeBase64(text: string): { base64: string; bytes: Buffer } | undefined {
  const base64 = text.replace(/\s+/g, '');
  if (!BASE64.test(base64)) return undefined;
  return { base64, bytes: Buffer.from(base64, 'base64') };
}

export function sha1Hex(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** The vCard's PHOTO as an avatar. A PHOTO with only EXTVAL has no bytes to hash: 'none'. */
export function vcardPhoto(vcard: Element | undefined): VcardPhoto {
  const photo = vcard?.getChild('PHOTO');
  const binval = photo?.getChildText('BINVAL');
  if (!photo || binval === undefined || binval.trim() === '') return { kind: 'none' };
  const decoded = decodeBase64(binval);
  if (!decoded || decoded.bytes.length === 0) return { kind: 'invalid', why: 'the vCard PHOTO BINVAL is not base64' };
  const type = photo.getChildText('TYPE')?.trim() || 'image/png';
  return { kind: 'avatar', avatar: { id: sha1Hex(decoded.bytes), bytes: decoded.bytes.length, type, base64: decoded.base64 } };
}

/** The <item id=sha1> of urn:xmpp:avatar:data (XEP-0084). */
export function dataItem(a: Avatar): Element {
  return x('item', { id: a.id }, x('data', { xmlns: NS_AVATAR_DATA }, a.base64));
}

/** The <item id=sha1> of urn:xmpp:avatar:metadata (XEP-0084). */
export function metadataItem(a: Avatar): Element {
  return x('item', { id: a.id }, x('metadata', { xmlns: NS_AVATAR_METADATA }, x('info', { id: a.id, bytes: String(a.bytes), type: a.type })));
}

/** The metadata item that says "no avatar" (XEP-0084: an empty <metadata/>, the publisher disabled its avatar). */
export function emptyMetadataItem(): Element {
  return x('item', { id: 'current' }, x('metadata', { xmlns: NS_AVATAR_METADATA }));
}

/**
 * The avatar a metadata item points at, as vCard can hold it: the first <info/> with an id and no
 * url (a url avatar lives elsewhere). undefined: no avatar (empty metadata).
 */
export function pointedInfo(metadataItem: Element | undefined): { id: string; type: string; bytes?: number } | undefined {
  const infos = metadataItem?.getChild('metadata', NS_AVATAR_METADATA)?.getChildren('info') ?? [];
  const info = infos.find((i) => i.attrs.id && !i.attrs.url);
  if (!info) return undefined;
  const bytes = Number(info.attrs.bytes);
  return { id: (info.attrs.id as string).toLowerCase(), type: info.attrs.type ?? 'image/png', ...(Number.isInteger(bytes) ? { bytes } : {}) };
}

/** The avatar from a data item, checked against the metadata's id and size; a reason when it does not match. */
export function avatarFromData(info: { id: string; type: string; bytes?: number }, data: Element | undefined): Avatar | string {
  const text = data?.getChild('data', NS_AVATAR_DATA)?.text();
  if (text === undefined) return `no urn:xmpp:avatar:data item ${info.id}`;
  const decoded = decodeBase64(text);
  if (!decoded || decoded.bytes.length === 0) return `the avatar data ${info.id} is not base64`;
  const id = sha1Hex(decoded.bytes);
  if (id !== info.id) return `the avatar data's SHA-1 is ${id}, not the id ${info.id} the metadata names`;
  if (info.bytes !== undefined && info.bytes !== decoded.bytes.length) return `the avatar data has ${decoded.bytes.length} bytes, the metadata says ${info.bytes}`;
  return { id, bytes: decoded.bytes.length, type: info.type, base64: decoded.base64 };
}

/** A copy of the vCard (a new one when absent) with its PHOTO replaced by `avatar`, or removed when undefined. */
export function withPhoto(vcard: Element | undefined, avatar: Avatar | undefined): Element {
  const out = vcard ? vcard.clone() : x('vCard', { xmlns: 'vcard-temp' });
  out.children = out.children.filter((c) => typeof c === 'string' || c.local !== 'PHOTO');
  if (avatar) out.append(x('PHOTO', null, x('TYPE', null, avatar.type), x('BINVAL', null, avatar.base64)));
  return out;
}
