// Text overlay layout, the same rules as the transcoder's FFmpeg drawtext (FFmpeg 5.1, in
// src/clipfeed/media/transcode.py), so the preview shows what the server will render:
//  - font size = round(picture height × size) pixels (the em size, as FreeType's pixel size);
//  - the text block's height = lines × (highest ascent + deepest descent among all its
//    glyphs), a space counting as a glyph sitting on the baseline; its width = the widest
//    line's advance; lines are left-aligned;
//  - x = (width − text width) × x, y = (height − text height) × y, truncated to whole pixels;
//  - box: the block grown by BOX_BORDER_PX on each side, black at 45 %; without box, a 2 px
//    black outline at 60 %.
// Written here because no library reproduces drawtext's rules; the glyph measures come from
// the browser (canvas measureText) with the same font file the server uses.

export const BOX_BORDER_PX = 12;
export const BOX_COLOR = "rgba(0, 0, 0, 0.45)";
export const OUTLINE_PX = 2;
export const OUTLINE_COLOR = "rgba(0, 0, 0, 0.6)";
export const FONT_FAMILY = "ClipfeedOverlay";

export interface LineMeasure {
  width: number; // advance
  ascent: number; // ink above the baseline (actualBoundingBoxAscent)
  descent: number; // ink below it (actualBoundingBoxDescent)
}

export interface OverlayPlacement {
  text: string;
  x: number;
  y: number;
  size: number;
}

export interface Layout {
  fontPx: number;
  lines: string[];
  left: number; // the text block, in picture pixels
  top: number;
  width: number;
  height: number;
  lineHeight: number;
  baseline: number; // first line's baseline, from the top of the picture
  box: { left: number; top: number; width: number; height: number };
}

export function fontPx(pictureHeight: number, size: number): number {
  return Math.round(pictureHeight * size);
}

export function linesOf(text: string): string[] {
  return text.replace(/\r\n?/g, "\n").split("\n");
}

/** The overlay's block and box in picture pixels; `measure` gives a line's metrics at `fontPx`. */
export function layout(overlay: OverlayPlacement, picture: { width: number; height: number },
  measure: (line: string, fontPx: number) => LineMeasure): Layout {
  const size = fontPx(picture.height, overlay.size);
  const lines = linesOf(overlay.text);
  let ascent = -Infinity;
  let descent = -Infinity;
  let width = 0;
  for (const line of lines) {
    const measured = measure(line, size);
    width = Math.max(width, measured.width);
    if (line.trim()) {
      ascent = Math.max(ascent, measured.ascent);
      descent = Math.max(descent, measured.descent);
    }
    if (/\s/.test(line) || !line.trim()) {
      // drawtext's blank glyphs have an empty box at the baseline
      ascent = Math.max(ascent, 0);
      descent = Math.max(descent, 0);
    }
  }
  if (!Number.isFinite(ascent)) ascent = descent = 0;
  const lineHeight = ascent + descent;
  const height = lineHeight * lines.length;
  const left = Math.trunc((picture.width - width) * overlay.x);
  const top = Math.trunc((picture.height - height) * overlay.y);
  return {
    fontPx: size, lines, left, top, width, height, lineHeight, baseline: top + ascent,
    box: { left: left - BOX_BORDER_PX, top: top - BOX_BORDER_PX, width: width + 2 * BOX_BORDER_PX,
      height: height + 2 * BOX_BORDER_PX },
  };
}

/** The placement fractions that put the block's top-left corner at (left, top), the inverse of
 * layout() for dragging: kept within 0..1. */
export function placementAt(left: number, top: number, block: { width: number; height: number },
  picture: { width: number; height: number }): { x: number; y: number } {
  const free = (room: number, at: number) => (room > 0 ? Math.min(1, Math.max(0, at / room)) : 0.5);
  return { x: Math.round(free(picture.width - block.width, left) * 1000) / 1000,
    y: Math.round(free(picture.height - block.height, top) * 1000) / 1000 };
}

/** Is the point (picture pixels) on the overlay's box? */
export function hits(box: Layout["box"], x: number, y: number): boolean {
  return x >= box.left && x <= box.left + box.width && y >= box.top && y <= box.top + box.height;
}

/** The displayed picture's rectangle inside an element showing it with object-fit: contain. */
export function containedRect(element: { width: number; height: number }, picture: { width: number; height: number }):
  { left: number; top: number; width: number; height: number; scale: number } {
  if (!picture.width || !picture.height) return { left: 0, top: 0, width: element.width, height: element.height, scale: 1 };
  const scale = Math.min(element.width / picture.width, element.height / picture.height);
  const width = picture.width * scale;
  const height = picture.height * scale;
  return { left: (element.width - width) / 2, top: (element.height - height) / 2, width, height, scale };
}
