import Foundation
import Testing
import ZIPFoundation
@testable import VigilDocuments

@Suite("DOCX")
struct DOCXRendererTests {
    func part(_ docx: Data, _ path: String) throws -> String {
        let archive = try Archive(data: docx, accessMode: .read)
        let entry = try #require(archive[path])
        var out = Data()
        _ = try archive.extract(entry) { out.append($0) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test(arguments: ["ua-126-19-0-en", "ua-126-19-2-en", "ua-126-19-0-ru", "ua-77-26-0-ar", "ua-88-26-0-zh"])
    func writesADeterministicPackage(documentID: String) throws {
        let doc = Fixtures.printable(documentID)
        let docx = try DOCXRenderer.render(doc)
        #expect(try DOCXRenderer.render(doc) == docx, "same input, same bytes")
        let xml = try part(docx, "word/document.xml")
        #expect(xml.contains(DOCXRenderer.escape(doc.document.title)))
        #expect(!xml.contains("<w:t xml:space=\"preserve\"></w:t>"), "no empty runs")
        #expect(try part(docx, "docProps/core.xml").contains("<dc:language>\(doc.document.language)</dc:language>"))
        for required in ["[Content_Types].xml", "_rels/.rels", "word/styles.xml", "word/numbering.xml", "word/_rels/document.xml.rels"] {
            _ = try part(docx, required)
        }
        if let dir = ProcessInfo.processInfo.environment["VIGIL_PDF_OUT"] {
            try docx.write(to: URL(fileURLWithPath: dir).appendingPathComponent("\(documentID).docx"))
        }
    }

    @Test func arabicParagraphsAreRightToLeft() throws {
        let xml = try part(try DOCXRenderer.render(Fixtures.printable("ua-77-26-0-ar")), "word/document.xml")
        #expect(xml.contains("<w:bidi/>") && xml.contains("<w:rtl/>") && xml.contains("w:bidi=\"ar\""))
    }
}
