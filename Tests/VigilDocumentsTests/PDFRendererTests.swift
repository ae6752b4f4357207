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

    @Test func usLetter() throws {
        let pdf = try PDFRenderer.render(Fixtures.printable("ua-126-19-0-en"), options: .init(paper: .letter))
        #expect(String(decoding: pdf, as: UTF8.self).contains("/MediaBox [ 0 0 612 792 ]"))
    }
}
