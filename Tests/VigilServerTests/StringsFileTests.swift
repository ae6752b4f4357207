import Foundation
import Testing
@testable import VigilCore
@testable import VigilServer

/// The catalogues as translators' files: PO (gettext, with `Plural-Forms`) and XLIFF 1.2, both
/// ways, and the refusal of a file that would break a catalogue.
@Suite("Translators' files")
struct StringsFileTests {
    static var directory: String { LanguageTests.locales.path }

    @Test(arguments: ["ar", "ru", "fr", "es"]) func aCatalogueGoesToPOAndXLIFFAndComesBackTheSame(language: String) throws {
        let english = try CatalogueFiles.read(directory: Self.directory, language: "en")
        let own = try CatalogueFiles.read(directory: Self.directory, language: language)
        let order = CatalogueFiles.englishOrder(directory: Self.directory)
        #expect(order.first == "site_name" && order.count == english.count)

        let po = CatalogueFiles.po(language: language, english: english, own: own, order: order)
        #expect(po.contains("\"Language: \(language)\\n\""))
        #expect(po.contains("\"Plural-Forms: \(PluralRules.gettext(language).header)\\n\""))
        let (poLanguage, fromPO) = try CatalogueFiles.parsePO(po)
        #expect(poLanguage == language)
        // Every string comes back as it was, but the plural forms gettext has no index for
        // (Russian `other`, for fractions), which a merge fills in.
        let gettextOnly = own.filter { key, _ in
            guard let (_, c) = PluralRules.split(key) else { return true }
            return PluralRules.gettext(language).categories.contains(c)
        }
        #expect(fromPO == gettextOnly)
        let merged = try CatalogueFiles.merge(language: language, imported: fromPO, into: [:], english: english)
        #expect(Catalogue.problems(language: language, own: merged, english: english).isEmpty)

        let xliff = CatalogueFiles.xliff(language: language, english: english, own: own, order: order)
        #expect(xliff.contains("target-language=\"\(language)\""))
        #expect(XMLSyntax.isWellFormed(xliff))
        let (xLanguage, fromXLIFF) = try CatalogueFiles.parseXLIFF(Data(xliff.utf8))
        #expect(xLanguage == language && fromXLIFF == own)

        // Written back, the file is the catalogue: same keys and values, in en.json's order.
        let json = CatalogueFiles.json(own, order: order)
        let reread = try JSONValue.parse(Data(json.utf8)).objectValue?.compactMapValues(\.stringValue)
        #expect(reread == own)
        let keys = json.split(separator: "\n").compactMap { $0.firstMatch(of: #/^\s*"([^"]+)":/#).map { String($0.1) } }
        #expect(keys.first == "site_name" && keys.count == own.count)
    }

    @Test func aFileThatWouldBreakTheCatalogueIsRefusedWhole() throws {
        let english = ["greet": "Hello {name}", "days#one": "{n} day", "days#other": "{n} days"]
        // A PO file as Poedit writes it: multi-line strings, comments, escapes.
        let po = """
            # Russian
            msgid ""
            msgstr ""
            "Language: ru\\n"
            "Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : 1);\\n"

            #. a comment
            msgctxt "greet"
            msgid "Hello {name}"
            msgstr "Здравствуйте, "
            "{name} \\"друг\\"\\n"

            msgctxt "days"
            msgid "{n} day"
            msgid_plural "{n} days"
            msgstr[0] "{n} день"
            msgstr[1] "{n} дня"
            msgstr[2] "{n} дней"
            """
        let (language, strings) = try CatalogueFiles.parsePO(po)
        #expect(language == "ru" && strings["greet"] == "Здравствуйте, {name} \"друг\"\n")
        #expect(strings["days#one"] == "{n} день" && strings["days#few"] == "{n} дня" && strings["days#many"] == "{n} дней")
        let merged = try CatalogueFiles.merge(language: "ru", imported: strings, into: [:], english: english)
        #expect(merged["days#other"] == "{n} дней", "the fractions' form is filled in from the last form")
        #expect(Catalogue.problems(language: "ru", own: merged, english: english).isEmpty)

        // A lost placeholder, a key English lacks, a form Russian does not have: refused, each named.
        let bad = ["greet": "Здравствуйте", "nonsense": "x", "days#two": "{n} дня"]
        #expect(throws: CommandProblem.self) { try CatalogueFiles.merge(language: "ru", imported: bad, into: [:], english: english) }
        do {
            _ = try CatalogueFiles.merge(language: "ru", imported: bad, into: [:], english: english)
        } catch {
            let text = String(describing: error)
            #expect(text.contains("greet has the placeholders") && text.contains("nonsense is not an English key") && text.contains("days#two"))
        }
        #expect(throws: CatalogueFiles.ParseProblem.self) { try CatalogueFiles.parsePO("msgid \"x\"\nmsgstr \"y\"\n") }
        #expect(throws: CatalogueFiles.ParseProblem.self) { try CatalogueFiles.parseXLIFF(Data("<xliff><file>".utf8)) }
        #expect(throws: (any Error).self) { try CatalogueFiles.parsePO("msgid \"\"\nmsgstr \"\"\n\"Language: fr\\n\"\nmsgctxt \"a\"\nmsgid \"b\"\nmsgstr[7] \"c\"\nmsgid_plural \"d\"\n") }
    }
}
