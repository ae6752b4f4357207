import Foundation
import VigilCore
import ZIPFoundation

/// Writes printable documents as Office Open XML (.docx): styles for headings, lead, quote and
/// address blocks, bullets and numbers, hyperlinks, core properties (title, language, dates
/// from the document), and right-to-left paragraphs marked as such. The package is deterministic:
/// fixed entry order and timestamps.
public enum DOCXRenderer {
    public struct RenderError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func render(_ doc: PrintableDocument) throws -> Data {
        try render(items: doc.blocks(), title: "\(doc.number.label): \(doc.document.title)", language: doc.document.language,
                   date: doc.document.published, footer: "\(doc.number.label) · \(doc.url)")
    }

    /// `rightToLeft` makes every paragraph right to left (a letter in Arabic or Hebrew: the date,
    /// the addresses, the signature and the body all start on the right); by default each
    /// paragraph takes its direction from its own language.
    public static func render(items: [PrintItem], title: String, language: String, date: PartialDate, footer: String?,
                              rightToLeft: Bool? = nil) throws -> Data {
        var body = Body()
        body.rightToLeft = rightToLeft
        for item in items { body.add(item) }
        if let footer { body.paragraph(runs: [Run(text: footer)], style: "Small", language: "en") }
        let stamp = String(format: "%04d-%02d-%02dT00:00:00Z", date.year, date.month ?? 1, date.day ?? 1)
        let parts: [(String, String)] = [
            ("[Content_Types].xml", contentTypes),
            ("_rels/.rels", rootRels),
            ("docProps/core.xml", core(title: title, language: language, date: stamp)),
            ("docProps/app.xml", app),
            ("word/document.xml", body.documentXML(language: language)),
            ("word/styles.xml", styles(language: language)),
            ("word/numbering.xml", numbering),
            ("word/settings.xml", settings(language: language)),
            ("word/_rels/document.xml.rels", body.relationshipsXML()),
        ]
        let fixedDate = DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"),
                                       year: date.year, month: date.month ?? 1, day: date.day ?? 1).date ?? Date(timeIntervalSince1970: 315_532_800)
        let archive: Archive
        do { archive = try Archive(accessMode: .create) } catch { throw RenderError(description: "cannot create a zip archive: \(error)") }
        for (path, xml) in parts {
            let data = Data(xml.utf8)
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), modificationDate: fixedDate,
                                 permissions: 0o644, compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        guard let data = archive.data else { throw RenderError(description: "the zip archive has no data") }
        return data
    }

    // MARK: - Body

    struct Run {
        var text: String
        var bold = false
        var italic = false
        var code = false
        var link: String?
        var lineBreak = false
    }

    struct Body {
        var xml = ""
        var links: [String] = []
        /// The direction of every paragraph, when the whole flow has one.
        var rightToLeft: Bool?

        static func isRTL(_ language: String) -> Bool { LanguageTag.isRightToLeft(language) }

        static func langXML(_ language: String) -> String {
            let l = escape(language)
            if isRTL(language) { return "<w:lang w:val=\"en-US\" w:bidi=\"\(l)\"/>" }
            if language.hasPrefix("zh") || language.hasPrefix("ja") || language.hasPrefix("ko") {
                return "<w:lang w:val=\"en-US\" w:eastAsia=\"\(l)\"/>"
            }
            return "<w:lang w:val=\"\(l)\"/>"
        }

        /// In a right-to-left paragraph, a run split into its left-to-right pieces (Latin names,
        /// initials, addresses) and the rest. Left-to-right pieces lose `w:rtl` (so Word resolves
        /// their punctuation left to right) and are wrapped in LEFT-TO-RIGHT MARKs (so every other
        /// reader, which applies the plain bidi algorithm, does too): "M. E." stays "M. E.".
        static func directional(_ run: Run) -> [(run: Run, rtl: Bool)] {
            guard !run.lineBreak else { return [(run, true)] }
            return Bidi.segments(run.text).map { piece in
                var r = run
                r.text = piece.leftToRight ? "\(Bidi.lrm)\(piece.text)\(Bidi.lrm)" : piece.text
                return (r, !piece.leftToRight)
            }
        }

        mutating func paragraph(runs: [Run], style: String, language: String, numbering: Int? = nil, keepNext: Bool = false) {
            let rtl = rightToLeft ?? Self.isRTL(language)
            var p = "<w:p><w:pPr><w:pStyle w:val=\"\(style)\"/>"
            if keepNext { p += "<w:keepNext/>" }
            if let numbering { p += "<w:numPr><w:ilvl w:val=\"0\"/><w:numId w:val=\"\(numbering)\"/></w:numPr>" }
            // A right-to-left letter: no side bars, which readers put on different sides (Word at the
            // start, LibreOffice on the left); the indent alone sets the addresses apart.
            if rightToLeft == true && ["Address", "Quote", "Note"].contains(style) { p += "<w:pBdr><w:left w:val=\"nil\"/></w:pBdr>" }
            if rtl { p += "<w:bidi/>" }
            p += "</w:pPr>"
            let pieces: [(run: Run, rtl: Bool)] = rtl ? runs.flatMap(Self.directional) : runs.map { ($0, false) }
            for (run, runRTL) in pieces {
                // Word rejects empty runs: a run always carries text or a break.
                guard run.lineBreak || !run.text.isEmpty else { continue }
                var rPr = ""
                if run.link != nil { rPr += "<w:rStyle w:val=\"Hyperlink\"/>" }
                if run.bold { rPr += "<w:b/><w:bCs/>" }
                if run.italic { rPr += "<w:i/><w:iCs/>" }
                if run.code { rPr += "<w:rFonts w:ascii=\"DejaVu Sans Mono\" w:hAnsi=\"DejaVu Sans Mono\"/>" }
                if runRTL { rPr += "<w:rtl/>" }
                rPr += Self.langXML(language)
                let content = run.lineBreak ? "<w:br/>" : "<w:t xml:space=\"preserve\">\(escape(run.text))</w:t>"
                let r = "<w:r><w:rPr>\(rPr)</w:rPr>\(content)</w:r>"
                if let link = run.link {
                    links.append(link)
                    p += "<w:hyperlink r:id=\"rIdLink\(links.count)\">\(r)</w:hyperlink>"
                } else {
                    p += r
                }
            }
            p += "</w:p>"
            xml += p
        }

        static func runs(_ inlines: [Markdown.Inline], bold: Bool = false, italic: Bool = false, link: String? = nil) -> [Run] {
            inlines.flatMap { i -> [Run] in
                switch i {
                case .text(let s): return [Run(text: s, bold: bold, italic: italic, link: link)]
                case .strong(let c): return runs(c, bold: true, italic: italic, link: link)
                case .emphasis(let c): return runs(c, bold: bold, italic: true, link: link)
                case .code(let s): return [Run(text: s, bold: bold, italic: italic, code: true, link: link)]
                case .lineBreak: return [Run(text: "", lineBreak: true)]
                case .link(let text, let url): return runs(text, bold: bold, italic: italic, link: url)
                }
            }
        }

        mutating func add(_ item: PrintItem) {
            let lang = item.language
            switch item.block {
            case .masthead(let title, let meta):
                paragraph(runs: [Run(text: title)], style: "Masthead", language: lang)
                paragraph(runs: [Run(text: meta.joined(separator: "  ·  "), bold: true)], style: "Meta", language: lang)
            case .title(let t): paragraph(runs: [Run(text: t)], style: "Title", language: lang)
            case .heading(let t): paragraph(runs: [Run(text: t)], style: "Heading1", language: lang, keepNext: true)
            case .subheading(let t): paragraph(runs: [Run(text: t)], style: "Heading2", language: lang, keepNext: true)
            case .paragraph(let inlines, let style):
                let name = ["normal": "Normal", "lead": "Lead", "small": "Small", "note": "Note"]["\(style)"] ?? "Normal"
                paragraph(runs: Self.runs(inlines), style: name, language: lang)
            case .bullet(let inlines): paragraph(runs: Self.runs(inlines), style: "ListParagraph", language: lang, numbering: 1)
            case .numbered(_, let inlines): paragraph(runs: Self.runs(inlines), style: "ListParagraph", language: lang, numbering: 2)
            case .address(let lines):
                var runs: [Run] = []
                for (i, line) in lines.enumerated() {
                    if i > 0 { runs.append(Run(text: "", lineBreak: true)) }
                    runs.append(Run(text: line, bold: i == 0))
                }
                paragraph(runs: runs, style: "Address", language: lang)
            case .quote(let text, let by):
                paragraph(runs: [Run(text: "“\(text)”")], style: "Quote", language: lang)
                if let by { paragraph(runs: [Run(text: "— \(by)", bold: true)], style: "QuoteSource", language: lang) }
            }
        }

        func documentXML(language: String) -> String {
            let rtl = Self.isRTL(language)
            return """
                <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
                <w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
                <w:body>\(xml)<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1134" w:right="1134" w:bottom="1134" w:left="1134" w:header="567" w:footer="567" w:gutter="0"/>\(rtl ? "<w:bidi/>" : "")</w:sectPr></w:body>
                </w:document>
                """
        }

        func relationshipsXML() -> String {
            var rels = """
                <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
                <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
                <Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
                <Relationship Id="rIdNumbering" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/numbering" Target="numbering.xml"/>
                <Relationship Id="rIdSettings" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings" Target="settings.xml"/>

                """
            for (i, link) in links.enumerated() {
                rels += "<Relationship Id=\"rIdLink\(i + 1)\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink\" Target=\"\(escape(link))\" TargetMode=\"External\"/>\n"
            }
            return rels + "</Relationships>"
        }
    }

    /// XML text and attribute escaping; characters XML cannot carry are dropped.
    static func escape(_ s: String) -> String { XMLText.escape(s) }

    // MARK: - Fixed parts

    static let contentTypes = """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
        <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
        <Default Extension="xml" ContentType="application/xml"/>
        <Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
        <Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>
        <Override PartName="/word/numbering.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"/>
        <Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>
        <Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
        <Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>
        </Types>
        """

    static let rootRels = """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
        <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
        <Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>
        <Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>
        </Relationships>
        """

    static func core(title: String, language: String, date: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
        <dc:title>\(escape(title))</dc:title>
        <dc:language>\(escape(language))</dc:language>
        <dc:creator>Vigil</dc:creator>
        <dcterms:created xsi:type="dcterms:W3CDTF">\(date)</dcterms:created>
        <dcterms:modified xsi:type="dcterms:W3CDTF">\(date)</dcterms:modified>
        </cp:coreProperties>
        """
    }

    static let app = """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>Vigil</Application></Properties>
        """

    static func settings(language: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <w:settings xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:defaultTabStop w:val="709"/><w:compat><w:compatSetting w:name="compatibilityMode" w:uri="http://schemas.microsoft.com/office/word" w:val="15"/></w:compat><w:themeFontLang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/></w:settings>
        """
    }

    static let numbering = """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <w:numbering xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
        <w:abstractNum w:abstractNumId="0"><w:multiLevelType w:val="singleLevel"/><w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="bullet"/><w:lvlText w:val="•"/><w:lvlJc w:val="left"/><w:pPr><w:ind w:left="720" w:hanging="360"/></w:pPr></w:lvl></w:abstractNum>
        <w:abstractNum w:abstractNumId="1"><w:multiLevelType w:val="singleLevel"/><w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/><w:lvlJc w:val="left"/><w:pPr><w:ind w:left="720" w:hanging="360"/></w:pPr></w:lvl></w:abstractNum>
        <w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>
        <w:num w:numId="2"><w:abstractNumId w:val="1"/></w:num>
        </w:numbering>
        """

    static func styles(language: String) -> String {
        func style(_ id: String, _ name: String, basedOn: String? = "Normal", pPr: String = "", rPr: String = "", type: String = "paragraph") -> String {
            "<w:style w:type=\"\(type)\" w:styleId=\"\(id)\"><w:name w:val=\"\(name)\"/>\(basedOn.map { "<w:basedOn w:val=\"\($0)\"/>" } ?? "")<w:qFormat/><w:pPr>\(pPr)</w:pPr><w:rPr>\(rPr)</w:rPr></w:style>"
        }
        let fonts = "<w:rFonts w:ascii=\"Noto Sans\" w:hAnsi=\"Noto Sans\" w:eastAsia=\"Noto Sans CJK SC\" w:cs=\"Noto Sans Arabic\"/>"
        return """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
            <w:docDefaults><w:rPrDefault><w:rPr>\(fonts)<w:sz w:val="21"/><w:szCs w:val="21"/><w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after="120" w:line="288" w:lineRule="auto"/></w:pPr></w:pPrDefault></w:docDefaults>
            \(style("Normal", "Normal", basedOn: nil))
            \(style("Masthead", "Masthead", pPr: "<w:shd w:val=\"clear\" w:color=\"auto\" w:fill=\"8A1C1C\"/><w:spacing w:after=\"60\"/>", rPr: "<w:b/><w:bCs/><w:color w:val=\"FFFFFF\"/><w:sz w:val=\"40\"/><w:szCs w:val=\"40\"/>"))
            \(style("Meta", "Meta", rPr: "<w:color w:val=\"4A4A4F\"/><w:sz w:val=\"18\"/><w:szCs w:val=\"18\"/>"))
            \(style("Title", "Title", pPr: "<w:spacing w:before=\"120\" w:after=\"160\"/><w:outlineLvl w:val=\"0\"/>", rPr: "<w:b/><w:bCs/><w:sz w:val=\"36\"/><w:szCs w:val=\"36\"/>"))
            \(style("Heading1", "heading 1", pPr: "<w:keepNext/><w:spacing w:before=\"280\" w:after=\"100\"/><w:pBdr><w:bottom w:val=\"single\" w:sz=\"6\" w:space=\"1\" w:color=\"8A1C1C\"/></w:pBdr><w:outlineLvl w:val=\"1\"/>", rPr: "<w:b/><w:bCs/><w:color w:val=\"8A1C1C\"/><w:sz w:val=\"28\"/><w:szCs w:val=\"28\"/>"))
            \(style("Heading2", "heading 2", pPr: "<w:keepNext/><w:spacing w:before=\"200\" w:after=\"80\"/><w:outlineLvl w:val=\"2\"/>", rPr: "<w:b/><w:bCs/><w:sz w:val=\"23\"/><w:szCs w:val=\"23\"/>"))
            \(style("Lead", "Lead", rPr: "<w:color w:val=\"4A4A4F\"/><w:sz w:val=\"24\"/><w:szCs w:val=\"24\"/>"))
            \(style("Small", "Small", pPr: "<w:ind w:left=\"284\"/><w:spacing w:after=\"40\"/>", rPr: "<w:color w:val=\"4A4A4F\"/><w:sz w:val=\"19\"/><w:szCs w:val=\"19\"/>"))
            \(style("Note", "Note", pPr: "<w:shd w:val=\"clear\" w:color=\"auto\" w:fill=\"F5F3EE\"/><w:pBdr><w:left w:val=\"single\" w:sz=\"18\" w:space=\"6\" w:color=\"1F6B35\"/></w:pBdr>", rPr: "<w:b/><w:bCs/>"))
            \(style("Quote", "Quote", pPr: "<w:shd w:val=\"clear\" w:color=\"auto\" w:fill=\"F5F3EE\"/><w:pBdr><w:left w:val=\"single\" w:sz=\"18\" w:space=\"6\" w:color=\"8A1C1C\"/></w:pBdr><w:ind w:left=\"284\"/>", rPr: "<w:i/><w:iCs/><w:sz w:val=\"24\"/><w:szCs w:val=\"24\"/>"))
            \(style("QuoteSource", "Quote source", pPr: "<w:ind w:left=\"284\"/>", rPr: "<w:b/><w:bCs/>"))
            \(style("Address", "Address", pPr: "<w:keepLines/><w:pBdr><w:left w:val=\"single\" w:sz=\"12\" w:space=\"6\" w:color=\"8A1C1C\"/></w:pBdr><w:ind w:left=\"284\"/><w:spacing w:before=\"80\" w:after=\"60\"/>"))
            \(style("ListParagraph", "List Paragraph", pPr: "<w:spacing w:after=\"40\"/>"))
            <w:style w:type="character" w:styleId="Hyperlink"><w:name w:val="Hyperlink"/><w:rPr><w:color w:val="0B4F8A"/><w:u w:val="single"/></w:rPr></w:style>
            </w:styles>
            """
    }
}
