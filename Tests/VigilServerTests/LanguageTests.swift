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

    @Test func everyCatalogueTranslatesEnglishKeysWithTheSamePlaceholders() throws {
        let c = try Self.catalogue()
        #expect(c.languages.first == "en")
        #expect(Set(c.languages).isSuperset(of: ["en", "es", "fr", "ar", "ru"]))
        let placeholder = try Regex("\\{[a-z_]+\\}")
        func names(_ s: String) -> Set<String> { Set(s.matches(of: placeholder).map { String(s[$0.range]) }) }
        for lang in c.languages where lang != "en" {
            let own = try #require(c.byLanguage[lang])
            let english = c.english.table
            for (key, value) in own.table where value != english[key] {
                #expect(english[key] != nil, "\(lang): \(key) is not an English key")
                #expect(names(value) == names(english[key] ?? ""), "\(lang): \(key) has other placeholders than English")
            }
            // Every e-mail is translated, not only some of it.
            for key in english.keys where key.hasPrefix("mail_") {
                let translated = own.table[key]
                #expect(translated != nil && translated != english[key], "\(lang): \(key) is not translated")
            }
            // So is every word printed around a document (some are the same word, like "Fax": they must be in the file).
            let raw = try JSONValue.parse(Data(contentsOf: Self.locales.appendingPathComponent("\(lang).json"))).objectValue ?? [:]
            for key in english.keys where key.hasPrefix("doc_") {
                #expect(raw[key] != nil, "\(lang): \(key) is missing")
            }
        }
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

    @Test func negotiationAndFallback() throws {
        let c = try Self.catalogue()
        #expect(c.negotiate(acceptLanguage: "ru-RU,ru;q=0.9,en;q=0.8") == "ru")
        #expect(c.negotiate(acceptLanguage: "de-DE, fr;q=0.5, en;q=0.7") == "en")
        #expect(c.negotiate(acceptLanguage: "de, fr-CA;q=0.4") == "fr")
        #expect(c.negotiate(acceptLanguage: "es;q=0, *") == "en")
        #expect(c.negotiate(acceptLanguage: nil) == "en")
        #expect(c.negotiate(acceptLanguage: String(repeating: "x,", count: 10_000)) == "en")
        #expect(c.strings(for: "fr-BE").language == "fr")
        #expect(c.strings(for: "de").language == "en")
        #expect(c.strings(for: "es")["log_in"] == c.english["log_in"], "untranslated UI strings fall back to English")
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
            #expect(french.textBody.contains("http://127.0.0.1:8080/urgent-actions/77-26/update-1/fr"))
            let frHTML = try #require(french.htmlBody)
            #expect(frHTML.hasPrefix(#"<!DOCTYPE html><html lang="fr" dir="ltr">"#) && frHTML.contains("Ne plus recevoir ces e-mails"))

            let arabic = try #require(try await lastMail(to: "ar@example.org", app))
            #expect(arabic.subject == "تحديث لتحرك عاجل UA 77/26: تحديد موعد المحاكمة")
            #expect(arabic.textBody.contains("http://127.0.0.1:8080/urgent-actions/77-26/update-1\n"))
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
                                           baseURL: "http://127.0.0.1:8080", mailFrom: "v@example.org", secret: secret) == 1)
            let digest = try #require(try await lastMail(to: "weekly@example.org", app))
            #expect(digest.subject.hasPrefix("Ваша еженедельная сводка"))
            #expect(digest.textBody.contains("Обновление срочной акции UA 77/26: Суд отложен"))
            #expect(digest.textBody.contains("http://127.0.0.1:8080/urgent-actions/77-26/update-2/ru"))

            // The account page and the data export show how and in which language.
            #expect(try await fr.get("/account").1.contains(#"(An e-mail for each update or outcome · <span lang="fr">français</span>)"#))
            let export = try JSONValue.parse(Data(try await fr.get("/account/export.json").1.utf8))
            let follow = export.objectValue?["follows"]?.arrayValue?.first?.objectValue
            #expect(follow?["language"]?.stringValue == "fr" && follow?["frequency"]?.stringValue == "each")
        }
    }
}
