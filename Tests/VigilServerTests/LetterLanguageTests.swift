import Foundation
import Testing
import VaporTesting
import ZIPFoundation
import VigilDocuments
@testable import VigilCore
@testable import VigilServer

/// The letter builder says which language the letter will be in and why, offers the languages
/// the model letter is translated into, and makes the letter in the one chosen.
@Suite("Letter language")
struct LetterLanguageTests {
    /// The demo with UA 126/19 open again and due in 2099, its documents up to `sequence` only
    /// (the letter builder shows only on documents supporters can act on).
    static func openDemo(upTo sequence: Int) throws -> VigilBundle {
        var b = try demoBundle()
        for c in b.cases.indices {
            for u in b.cases[c].urgentActions.indices where b.cases[c].urgentActions[u].number == UANumber(slug: "126-19") {
                b.cases[c].urgentActions[u].status = .open
                b.cases[c].urgentActions[u].documents.removeAll { $0.sequence > sequence }
                for d in b.cases[c].urgentActions[u].documents.indices where b.cases[c].urgentActions[u].documents[d].takeAction != nil {
                    b.cases[c].urgentActions[u].documents[d].takeAction!.deadline = PartialDate("2099-12-31")
                }
            }
        }
        return b
    }

    /// The page's letter form, its HTML entities for quotes undone.
    static func letterForm(_ page: String) throws -> String {
        let start = try #require(page.range(of: "<form class=\"letter-form\""))
        let end = try #require(page.range(of: "</form>", range: start.upperBound..<page.endIndex))
        return String(page[start.lowerBound..<end.upperBound]).replacingOccurrences(of: "&#39;", with: "'")
    }

    static func post(_ app: Application, _ path: String, _ fields: [String: String]) async throws -> TestingHTTPResponse {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = fields.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
        return try await send(app, .POST, path, json: body, contentType: "application/x-www-form-urlencoded")
    }

    static func documentXML(_ res: TestingHTTPResponse) throws -> String { try documentXML(Data(buffer: res.body)) }

    static func documentXML(_ docx: Data) throws -> String {
        let archive = try Archive(data: docx, accessMode: .read)
        var out = Data()
        _ = try archive.extract(try #require(archive["word/document.xml"])) { out.append($0) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test(arguments: TestStorage.available)
    func theEnglishPageSaysTheLetterWillBeInRussianAndOffersBoth(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await publish(app, try Self.openDemo(upTo: 0))
            let page = String(buffer: try await send(app, .GET, "/urgent-actions/126-19/initial").body)
            let form = try Self.letterForm(page)
            #expect(form.contains("<p>Your letter will be in Russian, the official's preferred language.</p>"))
            // The official's title is set apart (FSI … PDI): an option cannot carry its own `dir`.
            #expect(form.contains("<option value=\"ru-prosecutor-general\">\u{2068}Prosecutor General\u{2069} (letter in Russian)</option>"))
            #expect(form.contains("<select id=\"letter-language\" name=\"language\""))
            #expect(form.contains("<option value=\"ru\" selected>Russian (preferred)</option>"))
            #expect(form.contains("<option value=\"en\">English</option>"))
            #expect(!form.contains("value=\"\""), "one official: no 'each official' choice")
            // Next to the model letter (shown in English), what it is and what the letter will be in.
            #expect(page.replacingOccurrences(of: "&#39;", with: "'")
                .contains("Your letter will be in Russian, the official's preferred language. Here is what it says in English:"))
            #expect(page.contains("I am writing to express my deep concern"))

            // The Russian page: the letter is in Russian, the page's own language.
            let ru = String(buffer: try await send(app, .GET, "/urgent-actions/126-19/initial/ru").body)
            #expect(try Self.letterForm(ru).contains("<option value=\"en\">"), "English is offered there too")
        }
    }

    @Test(arguments: TestStorage.available)
    func theLetterIsMadeInTheLanguageChosen(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await publish(app, try Self.openDemo(upTo: 0))
            let path = "/urgent-actions/126-19/initial/letter"
            let base = ["target": "ru-prosecutor-general", "name": "Maria Eriksson", "format": "docx"]
            // By default: Russian, the official's preferred language.
            let byDefault = try await Self.post(app, path, base)
            #expect(byDefault.status == .ok && byDefault.headers.first(name: "Content-Language") == "ru")
            #expect(try Self.documentXML(byDefault).contains("Уважаемый господин Генеральный прокурор"))
            #expect(try await Self.post(app, path, base.merging(["language": ""]) { $1 }).headers.first(name: "Content-Language") == "ru")
            // Asked for English: the English model letter and salutation.
            let english = try await Self.post(app, path, base.merging(["language": "en"]) { $1 })
            #expect(english.status == .ok && english.headers.first(name: "Content-Language") == "en")
            let xml = try Self.documentXML(english)
            #expect(xml.contains("Dear Prosecutor General,") && xml.contains("I am writing to express my deep concern"))
            #expect(!xml.contains("Уважаемый"), "no Russian in the English letter")
            #expect(english.headers.first(name: .contentDisposition)?.contains("-en.docx") == true)
            // PDF too, from the Russian page.
            let pdf = try await Self.post(app, "/urgent-actions/126-19/initial/ru/letter", ["language": "en"])
            #expect(pdf.status == .ok && pdf.headers.first(name: .contentType) == "application/pdf")
            #expect(pdf.headers.first(name: "Content-Language") == "en")
        }
    }

    /// `vigil render --letter` (the letter benchmark's renderer) chooses as the form does: the
    /// English document's letter to the Russian official is in Russian unless asked otherwise.
    @Test(arguments: TestStorage.available)
    func theRenderCommandChoosesTheLanguageAsTheFormDoes(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await publish(app, try Self.openDemo(upTo: 0))
            let stored = try #require(try await DocumentData.load(id: "ua-126-19-0-en", on: app.db))
            let byDefault = try RenderCommand.letter(stored, name: "Maria Eriksson", baseURL: "http://vigil.test")
            #expect(byDefault.language == "ru" && byDefault.target.id == "ru-prosecutor-general")
            let site = try await Self.post(app, "/urgent-actions/126-19/initial/letter", ["name": "Maria Eriksson", "format": "docx"])
            #expect(site.headers.first(name: "Content-Language") == byDefault.language)
            #expect(try Self.documentXML(DOCXRenderer.render(letter: byDefault)).contains("Уважаемый господин Генеральный прокурор"))
            let english = try RenderCommand.letter(stored, name: nil, language: "en", baseURL: "http://vigil.test")
            #expect(english.language == "en" && english.document.id == "ua-126-19-0-en")
            #expect(throws: CommandProblem.self) { try RenderCommand.letter(stored, name: nil, language: "fr", baseURL: "http://vigil.test") }
        }
    }

    @Test(arguments: TestStorage.available)
    func aLanguageWithoutATranslationIsRefused(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await publish(app, try Self.openDemo(upTo: 0))
            let path = "/urgent-actions/126-19/initial/letter"
            for language in ["xx", "fr", "RU", "ru ru", "<script>alert(1)</script>", String(repeating: "e", count: 5000)] {
                let res = try await Self.post(app, path, ["target": "ru-prosecutor-general", "language": language])
                #expect(res.status == .badRequest, "\(language.prefix(20))")
                let body = String(buffer: res.body)
                #expect(body.contains("language must be one of the languages this letter is translated into: en, ru."))
                #expect(!body.contains("<script>"), "the input is not echoed")
            }
            // A refused letter counts against no limit: 25 refusals, then a letter still comes.
            for _ in 0..<25 { _ = try await Self.post(app, path, ["language": "fr"]) }
            #expect(try await Self.post(app, path, ["language": "en"]).status == .ok)
        }
    }

    @Test(arguments: TestStorage.available)
    func eachOfSeveralOfficialsIsToldApart(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // Update 1 names two officials; its model letter exists in English only.
            try await publish(app, try Self.openDemo(upTo: 1))
            let form = try Self.letterForm(String(buffer: try await send(app, .GET, "/urgent-actions/126-19/update-1").body))
            #expect(form.contains("will be in English, one of the official's preferred languages."))
            #expect(form.contains("Your letter to Prosecutor General will be in English: the model letter is not translated into Russian, the official's preferred language."))
            #expect(!form.contains("name=\"language\""), "one language: nothing to choose")
            let res = try await Self.post(app, "/urgent-actions/126-19/update-1/letter", ["target": "ru-prosecutor-general", "language": "ru"])
            #expect(res.status == .badRequest)
            #expect(try await Self.post(app, "/urgent-actions/126-19/update-1/letter", ["target": "ru-prosecutor-general"])
                .headers.first(name: "Content-Language") == "en")
        }
    }

    /// Officials who prefer different languages: each is told apart, and the form's default is
    /// "each official's preferred language", so that it works without JavaScript.
    @Test func officialsWithDifferentLanguagesGetEachTheirOwn() async throws {
        try await withApp { app in
            let bundle = try demoBundle()
            let documents = bundle.cases.flatMap(\.urgentActions).flatMap(\.documents)
            let en = try #require(documents.first { $0.id == "ua-126-19-0-en" }), ru = try #require(documents.first { $0.id == "ua-126-19-0-ru" })
            let targets = bundle.targets.filter { ["ru-prosecutor-general", "ru-embassy-example"].contains($0.id) }
            var ta = try #require(DocumentPage.example.takeAction)
            ta.targets = targets.map { t in
                var o = DocumentPage.example.takeAction!.targets[0]
                o.id = t.id; o.title = t.title
                return o
            }
            DocumentPage.describeLetterLanguages(&ta, document: en, chain: [en, ru], targets: targets, strings: app.vigilServices.strings)
            #expect(ta.letterLanguages.map(\.value) == ["", "en", "ru"])
            #expect(ta.letterLanguages.first?.selected == true && ta.letterLanguages.dropFirst().allSatisfy { !$0.selected })
            let prosecutor = try #require(ta.targets.first { $0.id == "ru-prosecutor-general" })
            let embassy = try #require(ta.targets.first { $0.id == "ru-embassy-example" })
            #expect(prosecutor.letterSentence == "Your letter to \(prosecutor.title) will be in Russian, the official's preferred language.")
            #expect(embassy.letterSentence == "Your letter to \(embassy.title) will be in English, the official's preferred language.")
            #expect(embassy.letterOption.hasSuffix("(letter in English)") && prosecutor.letterOption.hasSuffix("(letter in Russian)"))
            #expect(ta.letterNote == "Your letters will be in each official's preferred language, as said below. Here is what they say in English:")
        }
    }
}
