import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

@Suite("Supporters' languages")
struct LanguageTests {
    static let locales = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Resources/Locales")

    static func catalogue() throws -> Catalogue { try Catalogue.load(directory: locales.path) }

    static func raw(_ lang: String) throws -> [String: String] {
        (try JSONValue.parse(Data(contentsOf: locales.appendingPathComponent("\(lang).json"))).objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    /// Every catalogue is whole: every English key, the same placeholders, and every plural form
    /// its language's CLDR rules have (Arabic six, Russian four, Spanish and French three).
    @Test func everyCatalogueIsWholeWithTheSamePlaceholdersAndEveryPluralForm() throws {
        let c = try Self.catalogue()
        #expect(c.languages.first == "en")
        #expect(Set(c.languages).isSuperset(of: ["en", "es", "fr", "ar", "ru"]))
        let english = try Self.raw("en")
        for lang in c.languages where lang != "en" {
            let problems = Catalogue.problems(language: lang, own: try Self.raw(lang), english: english)
            #expect(problems.isEmpty, "\(problems.count) problems:\n\(problems.prefix(30).joined(separator: "\n"))")
        }
        #expect(try Self.raw("ar").keys.filter { $0.hasPrefix("days_left#") }.count == 6)
        #expect(try Self.raw("ru").keys.filter { $0.hasPrefix("days_left#") }.count == 4)
    }

    /// The check fails on what it is for: a missing key, a placeholder unlike English's, a
    /// missing plural form, a plural form the language does not have, a key English lacks.
    @Test func theCatalogueCheckFindsEachKindOfProblem() throws {
        let english = ["a": "Hello {name}", "b": "Bye", "c#one": "{n} day", "c#other": "{n} days"]
        let whole = ["a": "Здравствуйте, {name}", "b": "Пока", "c#one": "{n} день", "c#few": "{n} дня", "c#many": "{n} дней", "c#other": "{n} дня"]
        #expect(Catalogue.problems(language: "ru", own: whole, english: english).isEmpty)
        var missing = whole; missing["b"] = nil
        #expect(Catalogue.problems(language: "ru", own: missing, english: english) == ["ru: b is missing"])
        var wrong = whole; wrong["a"] = "Здравствуйте, {nom}"
        #expect(Catalogue.problems(language: "ru", own: wrong, english: english).first?.contains("a has the placeholders") == true)
        var noFew = whole; noFew["c#few"] = nil
        #expect(Catalogue.problems(language: "ru", own: noFew, english: english).first?.contains("c#few is missing") == true)
        var two = whole; two["c#two"] = "{n} дня"
        #expect(Catalogue.problems(language: "ru", own: two, english: english).first?.contains("no plural category two") == true)
        var extra = whole; extra["z"] = "?"
        #expect(Catalogue.problems(language: "ru", own: extra, english: english) == ["ru: z is not an English key"])
        // Arabic may say one and two in words; the other forms must give the number.
        let ar = ["a": "مرحبًا {name}", "b": "وداعًا", "c#zero": "لا أيام", "c#one": "يوم واحد", "c#two": "يومان", "c#few": "{n} أيام",
                  "c#many": "{n} يومًا", "c#other": "{n} يوم"]
        #expect(Catalogue.problems(language: "ar", own: ar, english: english).isEmpty)
        var arNoNumber = ar; arNoNumber["c#few"] = "أيام"
        #expect(!Catalogue.problems(language: "ar", own: arNoNumber, english: english).isEmpty)
    }

    /// Counted messages by CLDR rules, with the number written the language's way.
    @Test func countedMessagesFollowEachLanguagesPluralRules() throws {
        let c = try Self.catalogue()
        let ru = c.strings(for: "ru"), ar = c.strings(for: "ar"), en = c.english, fr = c.strings(for: "fr")
        #expect(en.plural("days_left", 1) == "(1 day left)" && en.plural("days_left", 21) == "(21 days left)")
        #expect(en.plural("results", 12345) == "12,345 documents")
        // Russian: 1, 21 → one; 2–4, 22 → few; 5–20, 11–14, 25 → many.
        let ruForms = [1, 21, 2, 22, 5, 11, 14, 25].map { ru.plural("days_left", $0) }
        #expect(ruForms[0] == ru.format("days_left#one", ["n": "1"]) && ruForms[1] == ru.format("days_left#one", ["n": "21"]))
        #expect(ruForms[2] == ru.format("days_left#few", ["n": "2"]) && ruForms[3] == ru.format("days_left#few", ["n": "22"]))
        #expect(ruForms[4] == ru.format("days_left#many", ["n": "5"]) && ruForms[5] == ru.format("days_left#many", ["n": "11"]))
        #expect(Set(ruForms).count == 8)
        // Arabic: six forms, Western digits.
        for (n, cat) in [(0, "zero"), (1, "one"), (2, "two"), (3, "few"), (10, "few"), (11, "many"), (99, "many"), (100, "other"), (103, "few")] {
            #expect(ar.plural("results", n) == ar.format("results#\(cat)", ["n": ar.number(n)]), "\(n) is \(cat) in Arabic")
        }
        #expect(ar.number(1234) == "1,234" || ar.number(1234) == "1٬234", "Western digits")
        #expect(!ar.number(1234).unicodeScalars.contains { (0x660...0x669).contains($0.value) })
        // French: 0 and 1 are singular.
        #expect(fr.plural("results", 0) == fr.format("results#one", ["n": "0"]))
        #expect(fr.plural("results", 2) == fr.format("results#other", ["n": "2"]))
        #expect(PluralRules.category(1_000_000, language: "fr") == .many && PluralRules.category(1_000_000, language: "es") == .many)
        #expect(PluralRules.category(3, language: "ja") == .other && PluralRules.categories("ja") == [.other])
        // Counted messages are not template strings.
        guard case .object(let t) = en.templateValue else { Issue.record("not an object"); return }
        #expect(t["days_left#one"] == nil && t["log_in"] != nil)
    }

    @Test func documentsArePrintedWithLabelsAndDatesInTheirLanguage() throws {
        let c = try Self.catalogue()
        let ru = c.documentLabels(for: "ru")
        #expect(ru.language == "ru" && ru.takeAction == "Примите меры" && ru.masthead[.initial] == "СРОЧНАЯ АКЦИЯ")
        // CLDR puts a narrow no-break space before "г.": any space will do here.
        let ruDate = ru.date(PartialDate("2019-11-14")!).components(separatedBy: .whitespaces).joined(separator: " ")
        #expect(ruDate == "14 ноября 2019 г.")
        #expect(c.documentLabels(for: "es").date(PartialDate("2025-03")!) == "marzo de 2025")
        #expect(c.documentLabels(for: "ar").date(PartialDate("2026-12-15")!).contains("2026"), "Western digits in Arabic dates")
        #expect(c.documentLabels(for: "ar").languageName("en") == "الإنجليزية")
        let zh = c.documentLabels(for: "zh-Hans")
        #expect(zh.language == "en" && zh.takeAction == "Take action", "no catalogue: English labels")
        #expect(c.documentLabels(for: "en").date(PartialDate("2019-11-14")!) == "14 November 2019")
    }

    /// Prison terms on pages and in documents, counted by each language's rules; lists with its separator.
    @Test func prisonTermsAndListsAreWrittenTheLanguagesWay() throws {
        let c = try Self.catalogue()
        func term(_ y: Int, _ m: Int, _ l: String) -> String {
            Sentence(term: .years(y, months: m)).termText(language: l, strings: c.strings(for: l).table)
        }
        #expect(term(12, 0, "ru") == "12 лет" && term(2, 0, "ru") == "2 года" && term(21, 0, "ru") == "21 год")
        #expect(term(1, 6, "es") == "1 año y 6 meses" && term(0, 8, "fr") == "8 mois")
        #expect(term(2, 0, "ar") == "سنتان" && term(12, 0, "ar") == "12 سنة" && term(3, 0, "ar") == "3 سنوات")
        #expect(term(7, 6, "en") == "7 years and 6 months" && term(7, 6, "en") == Sentence(term: .years(7, months: 6)).termDescription)
        #expect(Sentence(term: .life).termText(language: "fr", strings: c.strings(for: "fr").table) == "réclusion à perpétuité")
        // A document printed in Russian says it the same way.
        let labels = c.documentLabels(for: "ru")
        #expect(Sentence(term: .years(5, months: 0)).termText(language: labels.language, strings: labels.terms) == "5 лет")
        #expect(c.strings(for: "ar").list(["روسيا", "أوكرانيا"]) == "روسيا، أوكرانيا" && c.english.list(["Russia", "Ukraine"]) == "Russia, Ukraine")
    }

    @Test func negotiationAndFallback() throws {
        let c = try Self.catalogue()
        let site = SiteLanguages(offered: ["en", "ar", "es", "fr", "ru"], defaultLanguage: "en")
        #expect(site.negotiate(acceptLanguage: "ru-RU,ru;q=0.9,en;q=0.8") == "ru")
        #expect(site.negotiate(acceptLanguage: "de-DE, fr;q=0.5, en;q=0.7") == "en")
        #expect(site.negotiate(acceptLanguage: "de, fr-CA;q=0.4") == "fr")
        #expect(site.negotiate(acceptLanguage: "es;q=0, *") == "en")
        #expect(site.negotiate(acceptLanguage: "zh-Hant-TW, de") == nil, "nothing offered: the caller's default")
        #expect(site.negotiate(acceptLanguage: nil) == nil)
        #expect(site.negotiate(acceptLanguage: String(repeating: "x,", count: 10_000)) == nil)
        #expect(site.negotiate(acceptLanguage: "ar;q=2, ru;q=0.5") == "ru", "a q-value above 1 is not a preference")
        #expect(c.strings(for: "fr-BE").language == "fr")
        #expect(c.strings(for: "de").language == "en")
        // A catalogue without a string: English, key by key.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-cat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"a": "A", "b": "B"}"#.utf8).write(to: dir.appendingPathComponent("en.json"))
        try Data(#"{"a": "Ä"}"#.utf8).write(to: dir.appendingPathComponent("de.json"))
        let partial = try Catalogue.load(directory: dir.path)
        #expect(partial.strings(for: "de")["a"] == "Ä" && partial.strings(for: "de")["b"] == "B")
    }

    @Test(arguments: TestStorage.available) func signUpOffersTheBrowsersLanguageAndRefusesOthers(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let page = try await send(app, .GET, "/signup", headers: ["Accept-Language": "ar-EG,ar;q=0.9"])
            #expect(page.body.string.contains(#"<option value="ar" lang="ar" selected>"#))
            let b = Browser(app)
            let (bad, html) = try await b.post("/signup", ["email": "x@example.org", "display_name": "X", "language": "xx",
                                                           "password": AccountTests().password], csrfFrom: "/signup")
            #expect(bad.status == .unprocessableEntity && html.contains("Choose one of the languages offered."))
            #expect(try await SupporterModel.query(on: app.db).count() == 0)

            try await AccountTests().signUpAndVerify(app, b, email: "ru@example.org", language: "ru")
            let mail = try #require(try await lastMail(to: "ru@example.org", app))
            #expect(mail.subject == "Подтвердите адрес электронной почты")
            #expect(mail.headersJSON.contains("Content-Language") && mail.headersJSON.contains("\"ru\""))

            // The account page changes it; a language we have no catalogue for is refused.
            _ = try await b.post("/login", ["email": "ru@example.org", "password": AccountTests().password], csrfFrom: "/login")
            #expect(try await b.get("/account").1.contains(#"<option value="ru" lang="ru" selected>"#))
            #expect(try await b.post("/account/language", ["language": "tlh"], csrfFrom: "/account").0.status == .unprocessableEntity)
            #expect(try await b.post("/account/language", ["language": "es"], csrfFrom: "/account").0.status == .seeOther)
            #expect(try await SupporterModel.query(on: app.db).first()?.language == "es")
            _ = try await b.post("/password-reset", ["email": "ru@example.org"], csrfFrom: "/password-reset")
            #expect(try await lastMail(to: "ru@example.org", app)?.subject == "Restablezca su contraseña")
        }
    }

    @Test(arguments: TestStorage.available) func alertsComeInTheFollowsLanguageWithTheTranslation(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let fr = Browser(app), ar = Browser(app)
            try await AccountTests().signUpAndVerify(app, fr, email: "fr@example.org", language: "fr")
            _ = try await fr.post("/login", ["email": "fr@example.org", "password": AccountTests().password], csrfFrom: "/login")
            #expect(try await fr.get("/follow?case=demo-nour-hassan").1.contains(#"<option value="fr" lang="fr" selected>"#))
            _ = try await fr.post("/follow", ["case": "demo-nour-hassan"], csrfFrom: "/follow?case=demo-nour-hassan")
            #expect(try await FollowModel.query(on: app.db).first()?.language == "fr")
            try await AccountTests().signUpAndVerify(app, ar, email: "ar@example.org", language: "en")
            _ = try await ar.post("/login", ["email": "ar@example.org", "password": AccountTests().password], csrfFrom: "/login")
            // This follow's alerts in Arabic, though the account's e-mail language is English.
            _ = try await ar.post("/follow", ["country": "EG", "language": "ar"], csrfFrom: "/follow?country=EG")
            #expect(try await ar.post("/follow", ["country": "EG", "language": "xx"], csrfFrom: "/follow?country=EG").0.status == .unprocessableEntity)

            // An Arabic update published with its French translation, in one write.
            var kase = try demoBundle().cases.first { $0.id == "demo-nour-hassan" }!
            kase.urgentActions[0].documents = [
                Document(id: "ua-77-26-1-ar", sequence: 1, kind: .update, language: "ar", published: PartialDate("2026-11-21")!,
                         title: "تحديد موعد المحاكمة", summary: "تبدأ المحاكمة قريبًا.", body: "تبدأ المحاكمة قريبًا."),
                Document(id: "ua-77-26-1-fr", sequence: 1, kind: .update, language: "fr", translationOf: "ua-77-26-1-ar",
                         published: PartialDate("2026-11-21")!, title: "Date du procès fixée", summary: "Le procès commence bientôt.",
                         body: "Le procès commence bientôt."),
            ]
            let put = try await send(app, .PUT, "/api/v1/cases/demo-nour-hassan", headers: try await editorHeaders(app), json: kase.json.serialized())
            #expect(put.status == .ok)

            let french = try #require(try await lastMail(to: "fr@example.org", app))
            #expect(french.subject == "Mise à jour d’action urgente UA 77/26: Date du procès fixée")
            #expect(french.textBody.hasPrefix("Bonjour Ana,") && french.textBody.contains("Le procès commence bientôt."))
            // The page in the reader's language, which shows the translation into it.
            #expect(french.textBody.contains("http://127.0.0.1:8080/fr/urgent-actions/77-26/update-1\n"))
            let frHTML = try #require(french.htmlBody)
            #expect(frHTML.hasPrefix(#"<!DOCTYPE html><html lang="fr" dir="ltr">"#) && frHTML.contains("Ne plus recevoir ces e-mails"))

            let arabic = try #require(try await lastMail(to: "ar@example.org", app))
            #expect(arabic.subject == "تحديث لتحرك عاجل UA 77/26: تحديد موعد المحاكمة")
            #expect(arabic.textBody.contains("http://127.0.0.1:8080/ar/urgent-actions/77-26/update-1\n"))
            let arHTML = try #require(arabic.htmlBody)
            #expect(arHTML.hasPrefix(#"<!DOCTYPE html><html lang="ar" dir="rtl">"#))
            #expect(arabic.headersJSON.contains("List-Unsubscribe-Post"))

            // A weekly digest in Russian lists the update in Russian once its translation is stored.
            let weekly = Browser(app)
            try await AccountTests().signUpAndVerify(app, weekly, email: "weekly@example.org", language: "ru")
            _ = try await weekly.post("/login", ["email": "weekly@example.org", "password": AccountTests().password], csrfFrom: "/login")
            _ = try await weekly.post("/follow", ["case": "demo-nour-hassan", "frequency": "weekly"], csrfFrom: "/follow?case=demo-nour-hassan")
            if let f = try await FollowModel.query(on: app.db).filter(\.$digest == true).first() {
                f.createdAt = Date().addingTimeInterval(-3600); try await f.update(on: app.db)
            }
            let update2 = #"{"id":"ua-77-26-2-ar","sequence":2,"kind":"update","language":"ar","published":"2026-11-22","title":"تأجيل المحاكمة","body":"تأجلت المحاكمة."}"#
            let ru2 = #"{"id":"ua-77-26-2-ru","sequence":2,"kind":"update","language":"ru","translation_of":"ua-77-26-2-ar","published":"2026-11-22","title":"Суд отложен","body":"Суд отложен."}"#
            for body in [update2, ru2] {
                #expect(try await send(app, .POST, "/api/v1/urgent-actions/77-26/documents", headers: try await editorHeaders(app), json: body).status == .created)
            }
            let site = app.vigilServices, secret = site.secret
            #expect(try await Digests.send(now: Date().addingTimeInterval(60), on: app.db, catalogue: site.catalogue,
                                           baseURL: "http://127.0.0.1:8080", mailFrom: "v@example.org", secret: secret,
                                           offered: site.languages.offered) == 1)
            let digest = try #require(try await lastMail(to: "weekly@example.org", app))
            #expect(digest.subject.hasPrefix("Ваша еженедельная сводка"))
            #expect(digest.textBody.contains("Обновление срочной акции UA 77/26: Суд отложен"))
            #expect(digest.textBody.contains("http://127.0.0.1:8080/ru/urgent-actions/77-26/update-2"))

            // The account page and the data export show how and in which language.
            // (The supporter chose French: their account page is in French.)
            let frStrings = site.catalogue.strings(for: "fr")
            #expect(try await fr.get("/account").1.contains(#"(\#(HTML.escape(frStrings["follow_each"])) · <span lang="fr">français</span>)"#))
            let export = try JSONValue.parse(Data(try await fr.get("/account/export.json").1.utf8))
            let follow = export.objectValue?["follows"]?.arrayValue?.first?.objectValue
            #expect(follow?["language"]?.stringValue == "fr" && follow?["frequency"]?.stringValue == "each")
        }
    }
}
