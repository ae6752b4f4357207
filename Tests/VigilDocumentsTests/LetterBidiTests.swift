import CPangoCairo
import Foundation
import Testing
import VigilCore
import ZIPFoundation
@testable import VigilDocuments

/// Right-to-left letters: Latin names, initials, addresses and towns keep their own direction,
/// and every block of the letter has one direction and one alignment.
@Suite("Letters in right-to-left languages")
struct LetterBidiTests {
    func arabicLetter(name: String = "Maria Eriksson", town: String = "Paris", initials: Bool = true) -> AppealLetter {
        let doc = Fixtures.printable("ua-77-26-0-ar")
        return AppealLetter(number: doc.number, document: doc.document, target: doc.targets[0], senderName: name, senderTown: town,
                            initialsOnly: initials, date: PartialDate("2026-11-27")!, url: doc.url)
    }

    func ltr(_ s: String) -> [String] { Bidi.segments(s).filter(\.leftToRight).map(\.text) }

    @Test func leftToRightPiecesKeepTheirOwnPunctuation() {
        #expect(ltr("M. E.") == ["M. E."])
        #expect(ltr("[Example address - check before sending]") == ["[Example address - check before sending]"])
        #expect(ltr("إلى السيد John Smith، المحترم") == ["John Smith"], "the Arabic comma and the spaces stay outside")
        #expect(ltr("رقم (UA 77/26) في") == ["(UA 77/26)"])
        #expect(ltr("في 27 نوفمبر 2026") == [], "digits alone are not a left-to-right run")
        #expect(ltr("كتب Emir-Usein Kuku و Muslim Aliyev") == ["Emir-Usein Kuku", "Muslim Aliyev"])
        let s = "إلى السيد John Smith، المحترم"
        #expect(Bidi.segments(s).map(\.text).joined() == s, "nothing is lost or added")
        #expect(Bidi.isolatingLeftToRight("M. E.") == "\u{2066}M. E.\u{2069}")
    }

    @Test func theLanguageIsThePreferredOneWhenTranslated() {
        var t = Target(id: "x", title: "Official", languages: ["ru", "en"])
        #expect(LetterLanguage.choose(for: t, available: ["en", "ru"], documentLanguage: "en") == .init(language: "ru", reason: .preferred))
        #expect(LetterLanguage.choose(for: t, available: ["en"], documentLanguage: "en") == .init(language: "en", reason: .alsoPreferred(first: "ru")))
        t.languages = ["ru"]
        #expect(LetterLanguage.choose(for: t, available: ["en"], documentLanguage: "en") == .init(language: "en", reason: .noTranslation(preferred: "ru")))
        t.languages = []
        #expect(LetterLanguage.choose(for: t, available: ["ar", "en"], documentLanguage: "en") == .init(language: "en", reason: .noPreference))
        #expect(LetterLanguage.choose(for: t, available: ["ar"], documentLanguage: "en").language == "ar", "the only letter there is")
    }

    @Test func theArabicLetterIsDatedAndSignedInOneDirection() {
        let l = arabicLetter()
        #expect(l.isRightToLeft)
        let items = l.items()
        #expect(items.dropLast().allSatisfy { $0.language == "ar" }, "every block but the reference line is in the letter's language")
        let date = items.first { if case .paragraph(let i, _) = $0.block { i.map(\.plainText).joined().contains("2026") } else { false } }
        let dated = date.map { if case .paragraph(let i, _) = $0.block { i.map(\.plainText).joined() } else { "" } } ?? ""
        #expect(dated.contains("27") && dated.contains("نوفمبر") && dated.contains("2026"), "dated in Arabic: \(dated)")
    }

    func documentXML(_ docx: Data) throws -> String {
        let archive = try Archive(data: docx, accessMode: .read)
        var out = Data()
        _ = try archive.extract(try #require(archive["word/document.xml"])) { out.append($0) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The paragraphs of a document.xml, each as its properties and its runs.
    func paragraphs(_ xml: String) -> [(pPr: String, runs: [(rPr: String, text: String)])] {
        xml.components(separatedBy: "<w:p>").dropFirst().map { p in
            let pPr = p.components(separatedBy: "</w:pPr>").first ?? ""
            let runs = p.components(separatedBy: "<w:r>").dropFirst().map { r -> (String, String) in
                let rPr = r.components(separatedBy: "</w:rPr>").first ?? ""
                let text = r.components(separatedBy: "xml:space=\"preserve\">").dropFirst().first?.components(separatedBy: "</w:t>").first ?? ""
                return (rPr, text)
            }
            return (pPr, runs)
        }
    }

    @Test func docxLettersRightToLeftWithLatinRunsLeftToRight() throws {
        let xml = try documentXML(try DOCXRenderer.render(letter: arabicLetter()))
        let ps = paragraphs(xml)
        #expect(ps.count >= 6)
        for p in ps {
            #expect(p.pPr.contains("<w:bidi/>"), "every paragraph is right to left: \(p.pPr)")
            #expect(!p.pPr.contains("<w:jc "), "and none is aligned on its own")
        }
        let runs = ps.flatMap(\.runs)
        let initials = try #require(runs.first { $0.text.contains("M. E.") })
        #expect(initials.text == "\u{200E}M. E.\u{200E}", "the initials are one left-to-right run, marked")
        #expect(!initials.rPr.contains("<w:rtl/>"))
        let town = try #require(runs.first { $0.text.contains("Paris") })
        #expect(!town.rPr.contains("<w:rtl/>"))
        let arabic = try #require(runs.first { $0.text.unicodeScalars.contains { (0x0600...0x06FF).contains($0.value) } })
        #expect(arabic.rPr.contains("<w:rtl/>"))
        #expect(!xml.contains(".M. E"))
    }

    @Test func docxLettersInEnglishAreUnchanged() throws {
        let doc = Fixtures.printable("ua-126-19-0-en")
        let l = AppealLetter(number: doc.number, document: doc.document, target: doc.targets[0], senderName: "Maria Eriksson",
                             senderTown: "Paris", initialsOnly: true, date: PartialDate("2026-11-27")!, url: doc.url)
        let xml = try documentXML(try DOCXRenderer.render(letter: l))
        #expect(!xml.contains("<w:bidi/>") && !xml.contains("<w:rtl/>") && !xml.contains("\u{200E}"))
        #expect(xml.contains(">M. E.</w:t>"))
    }

    /// Lays `text` out as a letter's paragraph; returns the visual x of each of its visible
    /// characters (in logical order) and where the first line ends on the right.
    func visualPositions(_ text: String, rightToLeft: Bool) throws -> (xs: [Double], lineRight: Double, width: Double) {
        let surface = try #require(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 600, 800))
        defer { cairo_surface_destroy(surface) }
        let cr = try #require(cairo_create(surface))
        defer { cairo_destroy(cr) }
        let layouter = Layouter(cr: cr, pageWidth: 595, pageHeight: 842)
        layouter.rightToLeft = rightToLeft
        defer { layouter.release() }
        let layout = layouter.makeLayout(layouter.text(text), size: 10.5, width: 400, language: "ar")
        let laidOut = String(cString: pango_layout_get_text(layout))
        var xs: [Double] = []
        var offset = 0
        for scalar in laidOut.unicodeScalars {
            defer { offset += String(scalar).utf8.count }
            if scalar.properties.isWhitespace || scalar.properties.isDefaultIgnorableCodePoint { continue }
            var pos = PangoRectangle()
            pango_layout_index_to_pos(layout, Int32(offset), &pos)
            // A right-to-left character's box has a negative width: take its left edge.
            xs.append(Double(min(pos.x, pos.x + pos.width)) / Double(PANGO_SCALE))
        }
        var logical = PangoRectangle()
        let iter = try #require(pango_layout_get_iter(layout))
        pango_layout_iter_get_line_extents(iter, nil, &logical)
        pango_layout_iter_free(iter)
        return (xs, Double(logical.x + logical.width) / Double(PANGO_SCALE), 400)
    }

    @Test func withoutIsolationTheInitialsWouldBreak() throws {
        // The check below can fail: a right-to-left line without isolates puts the last "." first.
        let surface = try #require(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 600, 800))
        defer { cairo_surface_destroy(surface) }
        let cr = try #require(cairo_create(surface))
        defer { cairo_destroy(cr) }
        let layouter = Layouter(cr: cr, pageWidth: 595, pageHeight: 842)
        layouter.rightToLeft = true
        defer { layouter.release() }
        let layout = layouter.makeLayout("M. E.", size: 10.5, width: 400, language: "ar")
        var m = PangoRectangle(), dot = PangoRectangle()
        pango_layout_index_to_pos(layout, 0, &m)
        pango_layout_index_to_pos(layout, 4, &dot)
        #expect(min(dot.x, dot.x + dot.width) < min(m.x, m.x + m.width), "plain text: \".M. E\"")
    }

    @Test func pdfInitialsKeepTheirOrderAndTheLineItsRightAlignment() throws {
        let (xs, right, width) = try visualPositions("M. E.", rightToLeft: true)
        #expect(xs == xs.sorted(), "M, ., E, . from left to right: \(xs)")
        #expect(abs(right - width) < 0.5, "the line ends at the right edge: \(right)")
    }

    @Test func pdfLettersPlaceLatinTextInsideArabicInItsOwnOrder() throws {
        // "to Mr John Smith, respected": the Latin name reads left to right, inside a right-to-left line.
        let (xs, right, width) = try visualPositions("إلى John", rightToLeft: true)
        let latin = Array(xs.suffix(4))
        #expect(latin == latin.sorted(), "J, o, h, n from left to right: \(latin)")
        #expect(xs[0] > latin.last!, "the Arabic word that comes first stands to the right")
        #expect(abs(right - width) < 0.5)
    }

    @Test func anArabicLetterRendersToPDF() throws {
        let pdf = try PDFRenderer.render(letter: arabicLetter())
        #expect(pdf.starts(with: Data("%PDF-".utf8)))
        #expect(try PDFRenderer.render(letter: arabicLetter()) == pdf, "same input, same bytes")
        if let dir = ProcessInfo.processInfo.environment["VIGIL_PDF_OUT"] {
            try pdf.write(to: URL(fileURLWithPath: dir).appendingPathComponent("letter-ar.pdf"))
            try DOCXRenderer.render(letter: arabicLetter()).write(to: URL(fileURLWithPath: dir).appendingPathComponent("letter-ar.docx"))
        }
    }
}
