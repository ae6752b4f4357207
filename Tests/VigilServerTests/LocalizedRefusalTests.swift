import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Every human-readable refusal comes from the catalogues: the API's `reason` and
/// `issues[].message`, and the error page's message, are in the request's language; the English
/// stays the default, and `Refusal.reason` (logs, the command line) stays English.
@Suite("Refusals in the request's language")
struct LocalizedRefusalTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: TestStorage.available) func anAPIErrorAnswersInTheAcceptedLanguage(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let english = try await send(app, .GET, "/api/v1/cases/no-such-case")
            #expect(english.status == .notFound)
            #expect(english.json["reason"] == .string("There is no case \"no-such-case\"."), "no Accept-Language: English, as before")
            let french = try await send(app, .GET, "/api/v1/cases/no-such-case", headers: ["Accept-Language": "fr-CA, en;q=0.5"])
            #expect(french.status == .notFound)
            #expect(french.json["reason"] == .string("Le dossier « no-such-case » n’existe pas."))
            // A nested problem is translated too, and a refusal keeps its status and headers.
            let slug = try await send(app, .GET, "/api/v1/cases/Not%20A%20Slug", headers: ["Accept-Language": "fr"])
            #expect(slug.status == .badRequest)
            #expect(slug.json["reason"]?.stringValue?.hasPrefix("L’identifiant du dossier doit être un identifiant") == true)
            let body = #"{"id":"x","title":"X","countries":["FR"]}"#
            let noToken = try await send(app, .POST, "/api/v1/cases", headers: ["Accept-Language": "fr"], json: body)
            #expect(noToken.status == .unauthorized)
            #expect(noToken.headers.first(name: .wwwAuthenticate) == "Bearer")
            #expect(noToken.json["reason"]?.stringValue?.hasPrefix("Ce point d’accès demande un jeton d’API de publication") == true)
            // The middleware's own sentences.
            let h = try await editorHeaders(app)
            var fr = h
            fr.add(name: .acceptLanguage, value: "fr")
            let broken = try await send(app, .POST, "/api/v1/cases", headers: fr, json: "{")
            #expect(broken.status == .badRequest)
            #expect(broken.json["reason"]?.stringValue?.hasPrefix("Le corps de la requête n’est pas du JSON valide") == true)
            let englishBroken = try await send(app, .POST, "/api/v1/cases", headers: h, json: "{")
            #expect(englishBroken.json["reason"]?.stringValue?.hasPrefix("The request body is not valid JSON") == true)
        }
    }

    @Test(arguments: TestStorage.available) func validationIssuesAnswerInTheAcceptedLanguageAtTheSamePaths(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let h = try await editorHeaders(app)
            var ru = h
            ru.add(name: .acceptLanguage, value: "ru")
            let bundle = #"{"format":"vigil.bundle/1","cases":[{"id":7,"title":"X","countries":["fr"],"extra":1}],"targets":[]}"#
            let english = try await send(app, .POST, "/api/v1/bundles", headers: h, json: bundle)
            let russian = try await send(app, .POST, "/api/v1/bundles", headers: ru, json: bundle)
            #expect(english.status == .unprocessableEntity && russian.status == .unprocessableEntity)
            func issues(_ r: TestingHTTPResponse) -> [(path: String, message: String)] {
                (r.json["issues"]?.arrayValue ?? []).compactMap {
                    guard let p = $0["path"]?.stringValue, let m = $0["message"]?.stringValue else { return nil }
                    return (p, m)
                }
            }
            let en = issues(english), rus = issues(russian)
            #expect(en.map(\.path) == rus.map(\.path), "the paths are not translated")
            #expect(en.map(\.path) == ["$.cases[0].id", "$.cases[0].countries[0]", "$.cases[0].extra"])
            #expect(en.first?.message == "must be a string, not a number")
            #expect(rus.first?.message == "должно быть строкой, а получено: число", "the type name is translated too")
            #expect(rus[1].message == "нужно писать заглавными буквами: «FR»")
            #expect(rus[2].message == "неизвестное поле")
            #expect(english.json["reason"]?.stringValue?.hasPrefix("3 problems: $.cases[0].id: must be a string") == true)
            #expect(russian.json["reason"]?.stringValue?.hasPrefix("3 ошибки: $.cases[0].id: должно быть строкой") == true)
            // A case posted with a wrong id, in Spanish.
            var es = h
            es.add(name: .acceptLanguage, value: "es")
            let wrong = try await send(app, .POST, "/api/v1/cases", headers: es, json: #"{"id":"ok-case","title":"X","countries":[],"people":{}}"#)
            #expect(wrong.status == .unprocessableEntity)
            #expect(issues(wrong).map(\.path) == ["$.cases[0].countries", "$.cases[0].people"] || issues(wrong).map(\.path) == ["$.countries", "$.people"])
            #expect(issues(wrong).map(\.message).contains("debe ser una lista (array), no un objeto"))
        }
    }

    @Test(arguments: TestStorage.available) func anErrorPageSaysItsReasonInThePagesLanguage(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let arabic = try await app.testing().sendRequest(.GET, "/ar/urgent-actions/999-99") { $0.url = URI(string: "/ar/urgent-actions/999-99") }
            #expect(arabic.status == .notFound)
            #expect(arabic.body.string.contains("لا يوجد UA 999/99."))
            #expect(!arabic.body.string.contains("There is no UA 999/99."))
            let english = try await app.testing().sendRequest(.GET, "/en/urgent-actions/999-99") { $0.url = URI(string: "/en/urgent-actions/999-99") }
            #expect(english.status == .notFound)
            #expect(english.body.string.contains("There is no UA 999/99."))
        }
    }

    @Test func aRefusalsReasonIsEnglishAndItsMessageTranslates() throws {
        let catalogue = try Catalogue.load(directory: Self.root.appendingPathComponent("Resources/Locales").path)
        let en = catalogue.english, ru = catalogue.strings(for: "ru")
        let issue = ValidationIssue(path: "$.x", Message("issue_must_be_string", "must be a string, not {type}", ["type": JSONValue.bool(true).typeTerm]))
        #expect(issue.message == "must be a string, not a boolean")
        #expect(en.text(issue) == "must be a string, not a boolean")
        #expect(ru.text(issue) == "должно быть строкой, а получено: логическое значение")
        #expect(issue == ValidationIssue(path: "$.x", message: "must be a string, not a boolean"), "issues compare by what they say")
        let plain = ValidationIssue(path: "$.y", message: "said only in English")
        #expect(ru.text(plain) == "said only in English")
        let summary = ValidationError([issue, plain])
        #expect(en.summary(summary) == summary.description)
    }

    // MARK: - The sources

    /// Swift files under `Sources/<target>`, comments dropped.
    static func sources(_ target: String) throws -> [(file: String, text: String)] {
        let dir = root.appendingPathComponent("Sources/\(target)")
        let files = FileManager.default.enumerator(atPath: dir.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        return try files.sorted().map { file in
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            let code = text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }.joined(separator: "\n")
            return (file, code)
        }
    }

    /// Refusals whose English is fixed in code (not for people, or not reachable by them). Keep it
    /// short, and say why.
    static let englishOnly: Set<String> = []

    @Test func noRefusalIsWrittenInEnglishInTheCode() throws {
        var found: [String] = []
        for (file, code) in try Self.sources("VigilServer") {
            for pattern in [#/Abort\([^()]*?reason:\s*"/#, #/PublishingRefusal\([^()]*?reason:\s*"/#,
                            #/(?:ValidationIssue|\.init)\(path:[^()\n]*message:\s*"[A-Za-z]/#] {
                for m in code.matches(of: pattern) {
                    let line = code[..<m.range.lowerBound].filter { $0 == "\n" }.count + 1
                    if !Self.englishOnly.contains("\(file):\(line)") { found.append("\(file):\(line): \(m.output)") }
                }
            }
            for m in code.matches(of: #/(?:Diagnostics|\bd|diagnostics)\.add\([^,\n]+,\s*"[A-Za-z]/#) {
                found.append("\(file): \(m.output)")
            }
        }
        #expect(found.isEmpty, "a refusal or an issue with English written in: use Refusal(status, \"key\", values) or Message.catalogue(\"key\") and add the key to every catalogue:\n\(found.joined(separator: "\n"))")
    }

    @Test func everyKeyTheCodeNamesIsInTheCataloguesWithTheSameEnglish() throws {
        let en = try JSONValue.parse(Data(contentsOf: Self.root.appendingPathComponent("Resources/Locales/en.json"))).objectValue ?? [:]
        var problems: [String] = []
        for (file, code) in try Self.sources("VigilServer") {
            for m in code.matches(of: #/(?:Refusal\(\.[A-Za-z]+, |PublishingRefusal\(status: \.[A-Za-z]+, |Message\.catalogue\(|refusal\(wait: [a-z]+, key: )"([a-z0-9_]+)"/#) {
                if en[String(m.1)] == nil { problems.append("\(file): \(m.1) is not in en.json") }
            }
        }
        // VigilCore carries its English beside the key: it must be the catalogue's.
        var core = 0
        for (file, code) in try Self.sources("VigilCore") {
            for m in code.matches(of: #/Message\("([a-z0-9_]+)", "((?:[^"\\]|\\.)*)"/#) {
                core += 1
                let english = String(m.2).replacingOccurrences(of: "\\\"", with: "\"")
                if en[String(m.1)]?.stringValue != english {
                    problems.append("\(file): \(m.1) says \"\(english)\" here, \"\(en[String(m.1)]?.stringValue ?? "nothing")\" in en.json")
                }
            }
        }
        #expect(core > 60)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }
}
