"""Reference parser for bench/fuzz-diff.mjs: expat (Debian's python3 xml.parsers.expat), strict
XML 1.0 with namespaces. Reads documents from stdin, each as a 4-byte big-endian length and the
bytes (a length of 0xFFFFFFFF ends a batch); writes one JSON line per document: {"ok", "err", "restricted", "tree"}.

"restricted" lists what expat accepts but RFC 6120 section 11 forbids in an XMPP stream (a DTD,
comments, processing instructions, an encoding other than UTF-8, text or a CDATA section or a
reference between stanzas), and what expat accepts leniently (an XML declaration's version
outside 1.x). "tree" is [name, [[attr, value]...], children...] with names as {uri}local and
whitespace between stanzas dropped, the shape bench/fuzz/clove-run.mjs canonical() gives.
"""
import json
import re
import struct
import sys
import xml.parsers.expat as expat

SEP = '\x01'  # not an XML character, so it cannot occur in a namespace name


def qname(n):
    if SEP in n:
        uri, local = n.split(SEP, 1)
        return '{%s}%s' % (uri, local)
    return n


def parse(data):
    restricted = set()
    stack = []
    root = [None]
    cdata = [False]
    p = expat.ParserCreate('UTF-8', SEP)
    p.ordered_attributes = True

    def start(name, attrs):
        node = [qname(name), [[qname(attrs[i]), attrs[i + 1]] for i in range(0, len(attrs), 2)]]
        if stack:
            stack[-1].append(node)
        else:
            root[0] = node
        stack.append(node)

    def end(name):
        stack.pop()

    def chars(t):
        top = stack[-1]
        if len(stack) == 1:
            if cdata[0]:
                return
            if data[p.CurrentByteIndex:p.CurrentByteIndex + 1] == b'&':
                restricted.add('reference between stanzas')
            elif t.strip(' \t\r\n') != '':
                restricted.add('text between stanzas')
            return
        if len(top) > 2 and isinstance(top[-1], str):
            top[-1] += t
        else:
            top.append(t)

    def start_cdata():
        cdata[0] = True
        if len(stack) == 1:
            restricted.add('CDATA between stanzas')

    def end_cdata():
        cdata[0] = False

    def xml_decl(version, encoding, standalone):
        if encoding is not None and encoding.lower() != 'utf-8':
            restricted.add('an encoding other than UTF-8')
        if version is not None and not re.fullmatch(r'1\.[0-9]+', version):
            restricted.add('XML declaration version not 1.x (expat is lenient)')

    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    p.StartCdataSectionHandler = start_cdata
    p.EndCdataSectionHandler = end_cdata
    p.XmlDeclHandler = xml_decl
    p.CommentHandler = lambda t: restricted.add('comment')
    p.ProcessingInstructionHandler = lambda t, d: restricted.add('processing instruction')
    p.StartDoctypeDeclHandler = lambda *a: restricted.add('DOCTYPE')
    try:
        p.Parse(data, True)
    except expat.ExpatError as e:
        return {'ok': False, 'err': str(e), 'restricted': sorted(restricted)}
    return {'ok': True, 'restricted': sorted(restricted), 'tree': root[0]}


def main():
    inp = sys.stdin.buffer
    out = sys.stdout
    while True:
        head = inp.read(4)
        if len(head) < 4:
            return
        (n,) = struct.unpack('>I', head)
        if n == 0xFFFFFFFF:  # end of a batch
            out.flush()
            continue
        out.write(json.dumps(parse(inp.read(n))) + '\n')


if __name__ == '__main__':
    main()
