import Foundation
import Testing
@testable import VigilDocuments

@Suite("PDF")
struct PDFRendererTests {
    @Test(arguments: ["ua-126-19-0-en", "ua-126-19-1-en", "ua-126-19-2-en", "ua-126-19-0-ru", "ua-77-26-0-ar", "ua-88-26-0-zh", "ua-12-25-1-es"])
    func rendersAValidDeterministicPDF(documentID: String) throws {
        let doc = Fixtures.printable(documentID)
        let pdf = try PDFRenderer.render(doc)
        #expect(pdf.starts(with: Data("%PDF-".utf8)))
        #expect(String(decoding: pdf.suffix(8), as: UTF8.self).contains("%%EOF"))
        #expect(try PDFRenderer.render(doc) == pdf, "same input, same bytes")
        if let dir = ProcessInfo.processInfo.environment["VIGIL_PDF_OUT"] {
            try pdf.write(to: URL(fileURLWithPath: dir).appendingPathComponent("\(documentID).pdf"))
        }
    }

    @Test func inlineLinksAreClickable() throws {
        var doc = Fixtures.printable("ua-126-19-2-en")
        doc.document.body = "Read [the court’s ruling](https://example.org/ruling?id=1&lang=en) and the appeal at "
            + "[https://example.org/appeal](https://example.org/appeal).\n\n- Also in a list: [a report](https://example.org/report)\n"
        let pdf = try PDFRenderer.render(doc)
        let text = String(decoding: pdf, as: UTF8.self)
        for uri in ["https://example.org/ruling?id=1&lang=en", "https://example.org/appeal", "https://example.org/report"] {
            #expect(text.contains("/URI (\(uri))"), "a link annotation for \(uri)")
        }
        if let dir = ProcessInfo.processInfo.environment["VIGIL_PDF_OUT"] {
            try pdf.write(to: URL(fileURLWithPath: dir).appendingPathComponent("links.pdf"))
        }
    }

    /// A tagged PDF: a screen reader reads the structure (title, headings, paragraphs, lists,
    /// a pack's contents) in order, in the document's language.
    @Test(arguments: ["ua-126-19-0-en", "ua-126-19-0-ru", "ua-77-26-0-ar"])
    func isTaggedInItsLanguage(documentID: String) throws {
        let doc = Fixtures.printable(documentID)
        let pdf = try PDFRenderer.render(doc)
        let text = String(decoding: pdf, as: UTF8.self)
        #expect(text.contains("/StructTreeRoot") && text.contains("/MarkInfo << /Marked true >>"))
        #expect(text.contains("/Lang (\(doc.document.language))"))
        #expect(text.contains("/DisplayDocTitle true"))
        let lists = doc.blocks().contains { if case .bullet = $0.block { true } else if case .numbered = $0.block { true } else { false } }
        for element in ["/S /H1", "/S /H2", "/S /P"] + (lists ? ["/S /L\n", "/S /LI", "/S /LBody"] : []) {
            #expect(text.contains(element), "a \(element) element")
        }
        #expect(Self.crossReferencesHold(pdf), "every object where the table says it is")
        // A pack: a cover, then its contents as a table of contents.
        let pack = try PDFRenderer.render(documents: [doc, Fixtures.printable("ua-126-19-1-en")],
                                          cover: .init(title: "Pack", lines: ["A line"]), options: .init(), title: "Pack",
                                          date: doc.document.published, language: "en")
        let packText = String(decoding: pack, as: UTF8.self)
        #expect(packText.contains("/S /TOC") && packText.contains("/S /TOCI") && packText.contains("/Lang (en)"))
        #expect(Self.crossReferencesHold(pack))
    }

    /// The language goes into the catalog, and every offset of the cross-reference table after it moves along.
    @Test func declaringTheLanguageKeepsTheFileWhole() throws {
        let pdf = try PDFRenderer.render(Fixtures.printable("ua-126-19-2-en"))
        #expect(Self.crossReferencesHold(pdf))
        // Something unlike cairo's output, or a language that is no tag, is left as it is.
        #expect(TaggedPDF.declaringLanguage(Data("not a pdf".utf8), "en") == Data("not a pdf".utf8))
        let once = String(decoding: pdf, as: UTF8.self)
        #expect(once.components(separatedBy: "/Lang (").count == 2)
        let odd = try PDFRenderer.render(documents: [], cover: nil, options: .init(), title: "x", date: .init(year: 2026), language: ") /JS (",
                                         items: [PrintItem(.paragraph([.text("x")], .normal), language: "en")])
        #expect(String(decoding: odd, as: UTF8.self).contains("/Lang (JS)") || !String(decoding: odd, as: UTF8.self).contains("/JS ("))
        #expect(Self.crossReferencesHold(odd))
    }

    /// Reads the (last) cross-reference table and checks that each object starts where it says,
    /// and that `startxref` points at the table.
    static func crossReferencesHold(_ pdf: Data) -> Bool {
        let bytes = [UInt8](pdf)
        let text = String(decoding: bytes, as: UTF8.self)
        guard let start = text.range(of: "startxref\n", options: .backwards) else { return false }
        let startValue = Int(text[start.upperBound...].prefix { $0.isNumber }) ?? -1
        guard startValue >= 0, startValue + 4 <= bytes.count, String(decoding: bytes[startValue..<(startValue + 4)], as: UTF8.self) == "xref" else {
            return false
        }
        let table = String(decoding: bytes[startValue...], as: UTF8.self).components(separatedBy: "\n")
        var object = 0, checked = 0
        for line in table.dropFirst() {
            let parts = line.split(separator: " ")
            if parts.count == 2, let first = Int(parts[0]) { object = first; continue }
            guard parts.count == 3 else { break }
            defer { object += 1 }
            guard parts[2] == "n", let offset = Int(parts[0]) else { continue }
            let header = Array("\(object) 0 obj".utf8)
            guard offset + header.count <= bytes.count, Array(bytes[offset..<(offset + header.count)]) == header else { return false }
            checked += 1
        }
        return checked > 5
    }

    @Test func usLetter() throws {
        let pdf = try PDFRenderer.render(Fixtures.printable("ua-126-19-0-en"), options: .init(paper: .letter))
        #expect(String(decoding: pdf, as: UTF8.self).contains("/MediaBox [ 0 0 612 792 ]"))
    }
}
