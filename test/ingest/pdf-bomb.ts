import { deflateSync } from 'node:zlib';

/**
 * Hostile PDFs for the ingestion caps, written by hand like makePdf (test/ingest/pdf.ts).
 *
 * `formBomb(depth, fanout)`: form XObject X0 draws a line of text; each X<k> draws X<k-1> `fanout`
 * times; every page draws X<depth>. A file of a few kilobytes holds fanout^depth lines per page: the
 * "expands to millions of characters" finding.
 *
 * `deflateBomb(chars)`: one page whose content stream is a single string of `chars` characters,
 * deflated, so the file is a small fraction of its text.
 */
function assemble(objects: string[]): Buffer {
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  const parts: Buffer[] = [];
  let length = Buffer.byteLength(out, 'latin1');
  parts.push(Buffer.from(out, 'latin1'));
  for (let id = 1; id < objects.length; id++) {
    offsets[id] = length;
    const obj = Buffer.from(`${id} 0 obj\n${objects[id]}\nendobj\n`, 'latin1');
    parts.push(obj);
    length += obj.length;
  }
  out = `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let id = 1; id < objects.length; id++) out += `${String(offsets[id]).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`;
  parts.push(Buffer.from(out, 'latin1'));
  return Buffer.concat(parts);
}

const stream = (dict: string, body: string) => `<< ${dict} /Length ${Buffer.byteLength(body, 'latin1')} >>\nstream\n${body}\nendstream`;

export function formBomb(depth: number, fanout: number, pages = 1): Buffer {
  const objects: string[] = [];
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  objects[3] = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';
  const formId = (k: number) => 4 + k;
  const line = 'All work and no play makes a hostile document. '.repeat(2);
  objects[formId(0)] = stream('/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>', `BT /F1 12 Tf 72 720 Td (${line}) Tj ET`);
  for (let k = 1; k <= depth; k++) {
    const body = Array.from({ length: fanout }, () => `/X Do`).join('\n');
    objects[formId(k)] = stream(`/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << /X ${formId(k - 1)} 0 R >> >>`, body);
  }
  const firstPage = formId(depth) + 1;
  const pageIds = Array.from({ length: pages }, (_, i) => firstPage + i * 2);
  objects[2] = `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pages} >>`;
  for (const id of pageIds) {
    objects[id] = `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /X ${formId(depth)} 0 R >> >> /Contents ${id + 1} 0 R >>`;
    objects[id + 1] = stream('', '/X Do');
  }
  return assemble(objects);
}

export function deflateBomb(chars: number): Buffer {
  const body = `BT /F1 12 Tf 72 720 Td (${'A'.repeat(chars)}) Tj ET`;
  const packed = deflateSync(Buffer.from(body, 'latin1'), { level: 9 }).toString('latin1');
  const objects: string[] = [];
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  objects[2] = '<< /Type /Pages /Kids [4 0 R] /Count 1 >>';
  objects[3] = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';
  objects[4] = '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>';
  objects[5] = `<< /Filter /FlateDecode /Length ${Buffer.byteLength(packed, 'latin1')} >>\nstream\n${packed}\nendstream`;
  return assemble(objects);
}
