import CPangoCairo
import Foundation
import VigilCore

/// Paper sizes in PDF points.
public enum PaperSize: String, Sendable, CaseIterable {
    case a4, letter
    var size: (width: Double, height: Double) {
        switch self {
        case .a4: return (595.276, 841.89)
        case .letter: return (612, 792)
        }
    }
}

/// Renders printable documents to PDF with Pango (line breaking, bidi, shaping, font fallback
/// for every script) on a Cairo PDF surface. Fonts are embedded (subset) by Cairo. Output is
/// deterministic: the metadata dates come from the document, not the clock.
public enum PDFRenderer {
    public struct Options: Sendable {
        public var paper: PaperSize = .a4
        public init(paper: PaperSize = .a4) { self.paper = paper }
    }

    public struct RenderError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Read once: every text layout names them, and reading the environment copies all of it
    /// (4% of an appeal letter's CPU when it was read per layout).
    static let fontFamilies: String = ProcessInfo.processInfo.environment["VIGIL_PDF_FONTS"] ?? "Noto Sans, Noto Sans Arabic, Noto Naskh Arabic, Noto Sans CJK SC, Noto Sans Hebrew, DejaVu Sans"
    static let accent = (0.541, 0.110, 0.110)
    static let ink = (0.114, 0.114, 0.122)
    static let muted = (0.29, 0.29, 0.31)
    static let tint = (0.961, 0.953, 0.933)

    /// One PDF of one document.
    public static func render(_ doc: PrintableDocument, options: Options = .init()) throws -> Data {
        try render(documents: [doc], cover: nil, options: options, title: "\(doc.number.label): \(doc.document.title)",
                   date: doc.document.published, language: doc.document.language)
    }

    /// A cover page (title, lines, table of contents), then each document from a new page.
    public struct Cover: Sendable {
        public var title: String
        public var lines: [String]
        public var contentsHeading: String
        /// The language of the cover's words, and how its pages are numbered ("Page {n} of {m}").
        public var language: String
        public var page: String
        public init(title: String, lines: [String], contentsHeading: String = "Contents", language: String = "en",
                    page: String = DocumentLabels.english.page) {
            self.title = title; self.lines = lines; self.contentsHeading = contentsHeading
            self.language = language; self.page = page
        }
    }

    /// A free flow of blocks (a letter): no masthead footer, page numbers only. `rightToLeft` lays
    /// every block out right to left, aligned on the right, with left-to-right runs isolated.
    public static func render(items: [PrintItem], title: String, date: PartialDate, language: String, options: Options,
                              rightToLeft: Bool = false) throws -> Data {
        try render(documents: [], cover: nil, options: options, title: title, date: date, language: language, items: items,
                   rightToLeft: rightToLeft)
    }

    public static func render(documents: [PrintableDocument], cover: Cover?, options: Options, title: String,
                              date: PartialDate, language: String, items: [PrintItem]? = nil, rightToLeft: Bool = false) throws -> Data {
        let (pageW, pageH) = options.paper.size
        let sink = PDFSink()
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        guard let surface = cairo_pdf_surface_create_for_stream({ closure, bytes, length in
            guard let closure, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
            Unmanaged<PDFSink>.fromOpaque(closure).takeUnretainedValue().data.append(bytes, count: Int(length))
            return CAIRO_STATUS_SUCCESS
        }, sinkPointer, pageW, pageH) else { throw RenderError(description: "cairo could not create a PDF surface") }
        defer { cairo_surface_destroy(surface) }
        let stamp = String(format: "%04d-%02d-%02dT00:00:00Z", date.year, date.month ?? 1, date.day ?? 1)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "Vigil")
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, stamp)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_MOD_DATE, stamp)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_KEYWORDS, language)
        guard let cr = cairo_create(surface) else { throw RenderError(description: "cairo could not create a context") }
        defer { cairo_destroy(cr) }

        let layout = Layouter(cr: cr, pageWidth: pageW, pageHeight: pageH)
        layout.rightToLeft = rightToLeft
        var starts: [(Int, PrintableDocument)] = []
        if let cover { layout.coverPage(cover) }
        for (i, doc) in documents.enumerated() {
            if i > 0 || cover != nil { layout.newPage() }
            starts.append((layout.pages.count - 1, doc))
            layout.document(doc)
        }
        if cover != nil {
            layout.contents(starts.map { ("\($0.1.number.label) — \($0.1.document.title)", $0.0 + 1, $0.1.document.language) })
        }
        for item in items ?? [] { layout.block(item) }
        layout.closeStructure()
        // Footers need the page count; pages belong to the document that started last before them.
        let total = layout.pages.count
        for (index, page) in layout.pages.enumerated() {
            let owner = starts.last(where: { $0.0 <= index })?.1
            layout.drawPage(page, number: index + 1, of: total, footer: owner, surface: surface)
            cairo_show_page(cr)
        }
        layout.release()
        cairo_surface_finish(surface)
        let status = cairo_surface_status(surface)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw RenderError(description: "cairo: \(String(cString: cairo_status_to_string(status)))")
        }
        return TaggedPDF.declaringLanguage(sink.data, language)
    }
}

/// What cairo 1.16 cannot say itself: the document's language (`/Lang` in the catalog, read by
/// screen readers to pick their voice) and that viewers show the title rather than the file name.
enum TaggedPDF {
    /// `pdf` with `/Lang (language)`, `/ViewerPreferences << /DisplayDocTitle true >>` and, when
    /// it has a structure tree, `/MarkInfo << /Marked true >>` added to its catalog, and the cross-reference offsets after it moved along. A PDF not laid out
    /// as cairo writes it (a plain `xref` table after the catalog) comes back unchanged.
    static func declaringLanguage(_ pdf: Data, _ language: String) -> Data {
        let tag = String(language.unicodeScalars.filter { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") })
        guard !tag.isEmpty, tag.count <= 35 else { return pdf }
        let bytes = [UInt8](pdf)
        func find(_ needle: String, from: Int, last: Bool = false) -> Int? {
            let n = [UInt8](needle.utf8)
            guard bytes.count >= n.count, from <= bytes.count - n.count else { return nil }
            func matches(_ i: Int) -> Bool { bytes[i] == n[0] && bytes[i..<(i + n.count)].elementsEqual(n) }
            if last { return stride(from: bytes.count - n.count, through: from, by: -1).first(where: matches) }
            return (from...(bytes.count - n.count)).first(where: matches)
        }
        guard let catalog = find("<< /Type /Catalog", from: 0, last: true) else { return pdf }
        let at = catalog + "<< /Type /Catalog".utf8.count
        var added = "\n   /Lang (\(tag))\n   /ViewerPreferences << /DisplayDocTitle true >>"
        // cairo marks the file as tagged only when it has no outline; a tagged file says so.
        if let end = find("endobj", from: at) {
            let dictionary = String(decoding: bytes[at..<end], as: UTF8.self)
            if dictionary.contains("/StructTreeRoot"), !dictionary.contains("/MarkInfo") { added += "\n   /MarkInfo << /Marked true >>" }
        }
        let insert = Array(added.utf8)
        guard let xref = find("\nxref\n", from: at, last: true), let startxref = find("startxref\n", from: xref) else { return pdf }
        // The table: "xref", then sections of "first count" and count entries of "oooooooooo ggggg n \n".
        var lines = String(decoding: bytes[(xref + 1)..<startxref], as: UTF8.self).components(separatedBy: "\n")
        for (i, line) in lines.enumerated() {
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[2] == "n", parts[0].count == 10, let offset = Int(parts[0]) else { continue }
            if offset > at { lines[i] = String(format: "%010d", offset + insert.count) + " " + parts[1] + " n " }
        }
        let tail = String(decoding: bytes[(startxref + "startxref\n".utf8.count)...], as: UTF8.self)
        guard let oldStart = Int(tail.prefix { $0.isNumber }), oldStart == xref + 1 else { return pdf }
        let rest = tail.drop { $0.isNumber }
        var out = Array(bytes[..<at]) + insert + Array(bytes[at...xref])
        out += Array(lines.joined(separator: "\n").utf8)
        out += Array("startxref\n\(oldStart + insert.count)".utf8) + Array(rest.utf8)
        return Data(out)
    }
}

final class PDFSink {
    var data = Data()
}

/// Lays a flow of blocks out into pages of drawing operations, then draws them.
final class Layouter {
    enum Op {
        case line(layout: OpaquePointer, index: Int32, x: Double, baseline: Double, color: (Double, Double, Double))
        case rect(x: Double, y: Double, w: Double, h: Double, color: (Double, Double, Double))
        case outline(title: String, y: Double)
        /// A clickable area over a link's text (a PDF link annotation).
        case link(uri: String, x: Double, y: Double, w: Double, h: Double)
        /// A structure element (H1, P, L, LI, …) opens or closes: what a screen reader reads, in order.
        case begin(String)
        case end(String)
    }

    /// Elements opened by `beginTag` and not placed yet: an element opens with its first line, so
    /// that a page break before it leaves no empty element behind.
    var pendingTags: [String] = []
    /// Elements open while pages are drawn. A page's footer is drawn outside every element (a
    /// screen reader skips it), so an element that runs over a page break closes at the end of
    /// one page and opens again on the next.
    var openTags: [String] = []
    /// A run of bullets or numbered items makes one list.
    var inList = false

    func beginTag(_ name: String) { pendingTags.append(name) }

    func endTag(_ name: String) {
        if let last = pendingTags.last {
            assert(last == name)
            pendingTags.removeLast()
        } else {
            add(.end(name))
        }
    }

    /// Ends an open list (any element that is not an item does too).
    func closeStructure() {
        if inList { endTag("L"); inList = false }
    }

    /// The addresses of the links in a layout made from Markdown, in the order they appear.
    var linkURLs: [OpaquePointer: [String]] = [:]

    let cr: OpaquePointer
    let pageWidth: Double, pageHeight: Double
    let margin = 56.0
    let top = 54.0
    let bottom = 70.0
    var pages: [[Op]] = [[]]
    var y: Double
    var layouts: [OpaquePointer] = []
    /// Lay the flow's blocks out right to left (a letter in Arabic or Hebrew): each paragraph's
    /// base direction is right to left whatever its first letter, lines align on the right, and
    /// left-to-right runs are wrapped in isolates so their punctuation stays with them.
    var rightToLeft = false
    /// The footer and cover are laid out by their own rules, never right to left.
    var footerMode = false

    init(cr: OpaquePointer, pageWidth: Double, pageHeight: Double) {
        self.cr = cr; self.pageWidth = pageWidth; self.pageHeight = pageHeight
        y = top
    }

    var contentWidth: Double { pageWidth - 2 * margin }
    var limit: Double { pageHeight - bottom }

    func newPage() {
        pages.append([])
        y = top
    }

    func add(_ op: Op) {
        if case .line = op, !pendingTags.isEmpty {
            pages[pages.count - 1] += pendingTags.map(Op.begin)
            pendingTags = []
        }
        pages[pages.count - 1].append(op)
    }

    /// A Pango layout of `markup` in `language`, wrapped to `width`.
    func makeLayout(_ markup: String, size: Double, bold: Bool = false, italic: Bool = false, width: Double,
                    language: String, alignCenter: Bool = false) -> OpaquePointer {
        let layout = pango_cairo_create_layout(cr)!
        layouts.append(layout)
        let lang = pango_language_from_string(language)
        let context = pango_layout_get_context(layout)
        pango_context_set_language(context, lang)
        // Exact (unrounded, unhinted) glyph positions: PDF is resolution-independent, and text
        // extraction (pdftotext, screen readers) relies on positions matching the font's advances.
        pango_context_set_round_glyph_positions(context, 0)
        let fontOptions = cairo_font_options_create()
        cairo_font_options_set_hint_metrics(fontOptions, CAIRO_HINT_METRICS_OFF)
        cairo_font_options_set_hint_style(fontOptions, CAIRO_HINT_STYLE_NONE)
        pango_cairo_context_set_font_options(context, fontOptions)
        cairo_font_options_destroy(fontOptions)
        pango_layout_context_changed(layout)
        let desc = pango_font_description_from_string(PDFRenderer.fontFamilies)!
        pango_font_description_set_absolute_size(desc, size * Double(PANGO_SCALE))
        if bold { pango_font_description_set_weight(desc, PANGO_WEIGHT_BOLD) }
        if italic { pango_font_description_set_style(desc, PANGO_STYLE_ITALIC) }
        pango_layout_set_font_description(layout, desc)
        pango_font_description_free(desc)
        pango_layout_set_width(layout, Int32(width * Double(PANGO_SCALE)))
        pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR)
        pango_layout_set_spacing(layout, Int32(size * 0.35 * Double(PANGO_SCALE)))
        if alignCenter { pango_layout_set_alignment(layout, PANGO_ALIGN_CENTER) }
        if rightToLeft && !footerMode {
            // One direction for the whole letter: a line that starts with a Latin name stays on the right.
            pango_context_set_base_dir(context, PANGO_DIRECTION_RTL)
            pango_layout_set_auto_dir(layout, 0)
            pango_layout_context_changed(layout)
            if !alignCenter { pango_layout_set_alignment(layout, PANGO_ALIGN_RIGHT) }
        } else {
            // With auto-dir (the default), "left" means the start side: right for Arabic or Hebrew.
            pango_layout_set_auto_dir(layout, 1)
        }
        pango_layout_set_markup(layout, markup, -1)
        return layout
    }

    /// A layout of Markdown inlines (after an optional plain prefix such as a bullet), whose links
    /// become clickable where their text lands.
    func inlineLayout(_ inlines: [Markdown.Inline], prefix: String = "", size: Double, bold: Bool = false, width: Double,
                      language: String) -> OpaquePointer {
        let layout = makeLayout(prefix + markup(inlines), size: size, bold: bold, width: width, language: language)
        let urls = Self.links(inlines)
        if !urls.isEmpty { linkURLs[layout] = urls }
        return layout
    }

    /// The byte ranges of the underlined spans of a layout: the links `markup` made, in order.
    static func underlinedRanges(_ layout: OpaquePointer) -> [(start: Int32, end: Int32)] {
        guard let list = pango_layout_get_attributes(layout) else { return [] }
        let all = pango_attr_list_get_attributes(list)
        defer { g_slist_free_full(all) { pango_attribute_destroy($0?.assumingMemoryBound(to: PangoAttribute.self)) } }
        var ranges: [(start: Int32, end: Int32)] = []
        var node = all
        while let n = node {
            if let raw = n.pointee.data {
                let attr = raw.assumingMemoryBound(to: PangoAttribute.self)
                if attr.pointee.klass.pointee.type == PANGO_ATTR_UNDERLINE,
                   raw.assumingMemoryBound(to: PangoAttrInt.self).pointee.value != Int32(PANGO_UNDERLINE_NONE.rawValue) {
                    ranges.append((Int32(attr.pointee.start_index), Int32(attr.pointee.end_index)))
                }
            }
            node = n.pointee.next
        }
        // A span nested in a link (a URL inside a link's own text) is part of that link.
        var merged: [(start: Int32, end: Int32)] = []
        for r in ranges.sorted(by: { $0.start != $1.start ? $0.start < $1.start : $0.end > $1.end }) {
            if let last = merged.last, r.start >= last.start, r.end <= last.end { continue }
            merged.append(r)
        }
        return merged
    }

    /// Places every line of a layout, breaking to a new page where needed.
    func flow(_ layout: OpaquePointer, x: Double, color: (Double, Double, Double) = PDFRenderer.ink, spaceAfter: Double,
              background: (Double, Double, Double)? = nil, bar: (Double, Double, Double)? = nil, padding: Double = 0) {
        let iter = pango_layout_get_iter(layout)!
        defer { pango_layout_iter_free(iter) }
        var index: Int32 = 0
        var first = true
        // Links: each underlined range with its address (only when they pair up one to one).
        var links: [(start: Int32, end: Int32, uri: String)] = []
        if let urls = linkURLs[layout] {
            let ranges = Self.underlinedRanges(layout)
            if ranges.count == urls.count { links = zip(ranges, urls).map { ($0.start, $0.end, $1) } }
        }
        y += padding
        repeat {
            var logical = PangoRectangle()
            pango_layout_iter_get_line_extents(iter, nil, &logical)
            let lineTop = Double(logical.y) / Double(PANGO_SCALE)
            let lineHeight = Double(logical.height) / Double(PANGO_SCALE)
            let baseline = Double(pango_layout_iter_get_baseline(iter)) / Double(PANGO_SCALE)
            if first { first = false }
            if y + lineHeight > limit {
                newPage()
            }
            // Position lines by their own offset within the paragraph, continuing from the cursor.
            let lineX = Double(logical.x) / Double(PANGO_SCALE)
            // In a right-to-left flow an indented block's bar stands on its right, where its lines start.
            let width = Double(pango_layout_get_width(layout)) / Double(PANGO_SCALE)
            if let background {
                let from = rightToLeft ? margin - padding : x - padding
                let to = rightToLeft ? x + width + padding : margin + contentWidth + padding
                add(.rect(x: from, y: y - 1, w: to - from, h: lineHeight + 2 + padding, color: background))
            }
            if let bar {
                add(.rect(x: rightToLeft ? x + width + padding + 3 : x - padding - 4, y: y - 1, w: 3, h: lineHeight + 2 + padding, color: bar))
            }
            add(.line(layout: layout, index: index, x: x + lineX, baseline: y + (baseline - lineTop), color: color))
            if !links.isEmpty, let line = pango_layout_iter_get_line_readonly(iter) {
                let lineStart = line.pointee.start_index, lineEnd = line.pointee.start_index + line.pointee.length
                for link in links where link.start < lineEnd && link.end > lineStart {
                    var ranges: UnsafeMutablePointer<Int32>?
                    var count: Int32 = 0
                    pango_layout_line_get_x_ranges(line, max(link.start, lineStart), min(link.end, lineEnd), &ranges, &count)
                    for i in 0..<Int(count) {
                        let from = Double(ranges![2 * i]) / Double(PANGO_SCALE), to = Double(ranges![2 * i + 1]) / Double(PANGO_SCALE)
                        if to > from { add(.link(uri: link.uri, x: x + from, y: y, w: to - from, h: lineHeight)) }
                    }
                    g_free(ranges)
                }
            }
            y += lineHeight + Double(pango_layout_get_spacing(layout)) / Double(PANGO_SCALE)
            index += 1
        } while pango_layout_iter_next_line(iter) != 0
        y += spaceAfter + padding
    }

    func ensureSpace(_ needed: Double) {
        if y + needed > limit { newPage() }
    }

    static func escape(_ s: String) -> String { XMLText.escape(s) }

    /// Escaped for Pango markup; in a right-to-left flow, with its left-to-right runs isolated.
    func text(_ s: String) -> String { Self.escape(rightToLeft ? Bidi.isolatingLeftToRight(s) : s) }

    func markup(_ inlines: [Markdown.Inline]) -> String { Self.markup(inlines, isolating: rightToLeft) }

    static func markup(_ inlines: [Markdown.Inline], isolating: Bool = false) -> String {
        func escape(_ s: String) -> String { Self.escape(isolating ? Bidi.isolatingLeftToRight(s) : s) }
        func markup(_ inlines: [Markdown.Inline]) -> String { Self.markup(inlines, isolating: isolating) }
        return inlines.map { i -> String in
            switch i {
            case .text(let s): return escape(s)
            case .strong(let c): return "<b>\(markup(c))</b>"
            case .emphasis(let c): return "<i>\(markup(c))</i>"
            case .code(let s): return "<tt>\(escape(s))</tt>"
            case .lineBreak: return "\n"
            case .link(let text, let url):
                let label = markup(text)
                let shown = text.map(\.plainText).joined() == url ? "" : " (\(escape(url)))"
                return "<span foreground=\"#0b4f8a\" underline=\"single\">\(label)</span>\(shown)"
            }
        }.joined()
    }

    /// The addresses of the links among the inlines, in the order `markup` writes them.
    static func links(_ inlines: [Markdown.Inline]) -> [String] {
        inlines.flatMap { i -> [String] in
            switch i {
            case .strong(let c), .emphasis(let c): return links(c)
            case .link(_, let url): return [url]
            default: return []
            }
        }
    }

    func document(_ doc: PrintableDocument) {
        for item in doc.blocks() {
            block(item)
        }
        closeStructure()
    }

    /// Where an indented block starts: indented from the left, or in a right-to-left flow from the right.
    func indented(_ indent: Double) -> Double { rightToLeft ? margin : margin + indent }

    func block(_ item: PrintItem) {
        switch item.block {
        case .bullet, .numbered:
            if !inList { beginTag("L"); inList = true }
            beginTag("LI"); beginTag("LBody")
            place(item)
            endTag("LBody"); endTag("LI")
        case .quote:
            closeStructure()
            beginTag("BlockQuote")
            place(item)
            endTag("BlockQuote")
        default:
            closeStructure()
            place(item)
        }
    }

    /// The structure element of a block of one flow.
    static func tag(of block: PrintBlock) -> String {
        switch block {
        case .title: return "H1"
        case .heading: return "H2"
        case .subheading: return "H3"
        default: return "P"
        }
    }

    /// Lays one flow out inside its structure element.
    func flowTagged(_ tag: String, _ body: () -> Void) {
        beginTag(tag)
        body()
        endTag(tag)
    }

    func place(_ item: PrintItem) {
        let lang = item.language
        let tag = Self.tag(of: item.block)
        switch item.block {
        case .masthead(let title, let meta):
            let band = makeLayout(text(title), size: 22, bold: true, width: contentWidth - 24, language: lang)
            var ink = PangoRectangle()
            pango_layout_get_pixel_extents(band, nil, &ink)
            let bandHeight = Double(ink.height) + 22
            add(.rect(x: margin, y: y, w: contentWidth, h: bandHeight, color: PDFRenderer.accent))
            let saved = y
            y += 11
            flowTagged("P") { flow(band, x: margin + 12, color: (1, 1, 1), spaceAfter: 0) }
            y = saved + bandHeight + 8
            let metaLayout = makeLayout(text(meta.joined(separator: "   ·   ")), size: 9.5, bold: true, width: contentWidth, language: lang)
            flowTagged("P") { flow(metaLayout, x: margin, color: PDFRenderer.muted, spaceAfter: 14) }
        case .title(let t):
            if item.outline { add(.outline(title: t, y: y)) }
            flowTagged(tag) { flow(makeLayout(text(t), size: 19, bold: true, width: contentWidth, language: lang), x: margin, spaceAfter: 10) }
        case .heading(let t):
            ensureSpace(70)
            y += 8
            if item.outline { add(.outline(title: t, y: y)) }
            flowTagged(tag) {
                flow(makeLayout(text(t), size: 14, bold: true, width: contentWidth, language: lang), x: margin, color: PDFRenderer.accent, spaceAfter: 6)
            }
            add(.rect(x: margin, y: y - 4, w: contentWidth, h: 0.8, color: PDFRenderer.accent))
            y += 4
        case .subheading(let t):
            ensureSpace(50)
            y += 4
            if item.outline { add(.outline(title: t, y: y)) }
            flowTagged(tag) { flow(makeLayout(text(t), size: 11.5, bold: true, width: contentWidth, language: lang), x: margin, spaceAfter: 4) }
        case .paragraph(let inlines, let style):
            beginTag(tag)
            defer { endTag(tag) }
            switch style {
            case .normal: flow(inlineLayout(inlines, size: 10.5, width: contentWidth, language: lang), x: margin, spaceAfter: 7)
            case .lead: flow(inlineLayout(inlines, size: 12, width: contentWidth, language: lang), x: margin, color: PDFRenderer.muted, spaceAfter: 9)
            case .small: flow(inlineLayout(inlines, size: 9.5, width: contentWidth - 14, language: lang), x: indented(14), color: PDFRenderer.muted, spaceAfter: 2)
            case .note:
                flow(inlineLayout(inlines, size: 10.5, bold: true, width: contentWidth - 16, language: lang), x: indented(10),
                     spaceAfter: 8, background: PDFRenderer.tint, bar: (0.122, 0.420, 0.208), padding: 3)
            }
        case .bullet(let inlines):
            let l = inlineLayout(inlines, prefix: "•  ", size: 10.5, width: contentWidth - 14, language: lang)
            pango_layout_set_indent(l, Int32(-8 * Double(PANGO_SCALE)))
            flowTagged(tag) { flow(l, x: indented(14), spaceAfter: 3) }
        case .numbered(let n, let inlines):
            // In a right-to-left flow the number keeps its dot after it ("1." not ".1").
            let number = rightToLeft ? "\(Bidi.lri)\(n).\(Bidi.pdi)  " : "\(n).  "
            flowTagged(tag) {
                flow(inlineLayout(inlines, prefix: number, size: 10.5, width: contentWidth - 14, language: lang), x: indented(14), spaceAfter: 3)
            }
        case .address(let lines):
            ensureSpace(Double(lines.count) * 14 + 10)
            y += 4
            let markup = lines.enumerated().map { $0.offset == 0 ? "<b>\(text($0.element))</b>" : text($0.element) }.joined(separator: "\n")
            flowTagged(tag) {
                flow(makeLayout(markup, size: 10.5, width: contentWidth - 14, language: lang), x: indented(14), spaceAfter: 4,
                     bar: PDFRenderer.accent)
            }
        case .quote(let text, let by):
            y += 4
            flowTagged("P") {
                flow(makeLayout("<i>“\(self.text(text))”</i>", size: 12, width: contentWidth - 24, language: lang), x: indented(16),
                     spaceAfter: by == nil ? 10 : 2, background: PDFRenderer.tint, bar: PDFRenderer.accent, padding: 4)
            }
            if let by {
                flowTagged("P") {
                    flow(makeLayout("— \(self.text(by))", size: 10.5, bold: true, width: contentWidth - 24, language: lang), x: indented(16),
                         spaceAfter: 10)
                }
            }
        }
    }

    var contentsPage = 0
    var contentsY = 0.0
    /// How the cover's own pages are numbered, in the cover's language.
    var coverPageText: String?

    func coverPage(_ cover: PDFRenderer.Cover) {
        y = 200
        coverPageText = cover.page
        flowTagged("H1") {
            flow(makeLayout(Self.escape(cover.title), size: 28, bold: true, width: contentWidth, language: cover.language, alignCenter: true), x: margin,
                 color: PDFRenderer.accent, spaceAfter: 16)
        }
        for line in cover.lines {
            flowTagged("P") {
                flow(makeLayout(Self.escape(line), size: 12, width: contentWidth, language: cover.language, alignCenter: true), x: margin,
                     color: PDFRenderer.muted, spaceAfter: 4)
            }
        }
        newPage()
        add(.outline(title: cover.contentsHeading, y: y))
        flowTagged("H2") {
            flow(makeLayout(Self.escape(cover.contentsHeading), size: 16, bold: true, width: contentWidth, language: cover.language), x: margin, spaceAfter: 10)
        }
        contentsPage = pages.count - 1
        contentsY = y
    }

    /// Fills the contents page reserved by `coverPage`, now that the start pages are known.
    func contents(_ entries: [(title: String, page: Int, language: String)]) {
        let savedPages = pages, savedY = y
        var ops: [Op] = []
        pages = [[]]
        y = contentsY
        beginTag("TOC")
        for (i, entry) in entries.enumerated() {
            let number = makeLayout("\(entry.page)", size: 10.5, width: 40, language: "en")
            pango_layout_set_alignment(number, PANGO_ALIGN_RIGHT)
            let lineY = y
            beginTag("TOCI")
            flow(makeLayout("\(i + 1).  " + Self.escape(entry.title), size: 10.5, width: contentWidth - 50, language: entry.language),
                 x: margin, spaceAfter: 5)
            let endY = y
            y = lineY
            flow(number, x: margin + contentWidth - 40, spaceAfter: 0)
            y = endY
            endTag("TOCI")
            if pages.count > 1 { break }  // one page of contents
        }
        endTag("TOC")
        ops = pages[0]
        // An entry cut by the end of the page closes on it.
        var open: [String] = []
        for op in ops {
            if case .begin(let t) = op { open.append(t) } else if case .end = op { open.removeLast() }
        }
        ops += open.reversed().map(Op.end)
        pages = savedPages
        pages[contentsPage] += ops
        y = savedY
    }

    func drawPage(_ ops: [Op], number: Int, of total: Int, footer doc: PrintableDocument?, surface: OpaquePointer) {
        footerMode = true
        defer { footerMode = false }
        for tag in openTags { cairo_tag_begin(cr, tag, "") }
        for op in ops {
            switch op {
            case .begin(let tag):
                cairo_tag_begin(cr, tag, "")
                openTags.append(tag)
            case .end(let tag):
                cairo_tag_end(cr, tag)
                openTags.removeLast()
            case .rect(let x, let y, let w, let h, let c):
                cairo_set_source_rgb(cr, c.0, c.1, c.2)
                cairo_rectangle(cr, x, y, w, h)
                cairo_fill(cr)
            case .line(let layout, let index, let x, let baseline, let c):
                cairo_set_source_rgb(cr, c.0, c.1, c.2)
                cairo_move_to(cr, x, baseline)
                pango_cairo_show_layout_line(cr, pango_layout_get_line_readonly(layout, index))
            case .outline(let title, let y):
                _ = cairo_pdf_surface_add_outline(surface, 0, title, "page=\(number) pos=[\(Int(margin)) \(Int(y))]", cairo_pdf_outline_flags_t(rawValue: 0))
            case .link(let uri, let x, let y, let w, let h):
                let quoted = uri.replacingOccurrences(of: "\\", with: "%5C").replacingOccurrences(of: "'", with: "%27")
                cairo_tag_begin(cr, CAIRO_TAG_LINK, "rect=[\(x) \(y) \(w) \(h)] uri='\(quoted)'")
                cairo_tag_end(cr, CAIRO_TAG_LINK)
            }
        }
        for tag in openTags.reversed() { cairo_tag_end(cr, tag) }
        // Footer: the urgent action, its address (a link) and the page number.
        cairo_set_source_rgb(cr, PDFRenderer.muted.0, PDFRenderer.muted.1, PDFRenderer.muted.2)
        cairo_rectangle(cr, margin, pageHeight - bottom + 22, contentWidth, 0.5)
        cairo_fill(cr)
        let pageText = (doc?.labels.page ?? coverPageText ?? DocumentLabels.english.page).replacingOccurrences(of: "{n}", with: "\(number)").replacingOccurrences(of: "{m}", with: "\(total)")
        var left = ""
        if let doc { left = "\(doc.number.label)  ·  \(doc.url)" }
        let footer = makeLayout(Self.escape(left), size: 8.5, width: contentWidth - 90, language: "en")
        cairo_move_to(cr, margin, pageHeight - bottom + 30)
        if let doc { cairo_tag_begin(cr, CAIRO_TAG_LINK, "uri='\(doc.url.replacingOccurrences(of: "'", with: "%27"))'") }
        pango_cairo_show_layout(cr, footer)
        if doc != nil { cairo_tag_end(cr, CAIRO_TAG_LINK) }
        let right = makeLayout(Self.escape(pageText), size: 8.5, width: 90, language: "en")
        pango_layout_set_alignment(right, PANGO_ALIGN_RIGHT)
        cairo_move_to(cr, pageWidth - margin - 90, pageHeight - bottom + 30)
        pango_cairo_show_layout(cr, right)
    }

    func release() {
        for l in layouts { g_object_unref(UnsafeMutableRawPointer(l)) }
        layouts = []
    }
}
