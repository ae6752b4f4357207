import Fluent
import Foundation
import NIOCore
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Every page's address carries its language (`/fr/urgent-actions/126-19/initial`); an address
/// without one sends each visitor to theirs; every page names its alternates; the switcher keeps
/// the visitor on the same item; content comes in the page's language where it is translated.
@Suite("Languages in addresses")
struct LocalizedAddressTests {
    static let offered = ["en", "ar", "es", "fr", "ru"]

    /// The answer to one request, redirects not followed.
    func raw(_ app: Application, _ path: String, _ headers: HTTPHeaders = [:]) async throws -> TestingHTTPResponse {
        try await app.testing().sendRequest(.GET, path, headers: headers) { req in req.url = URI(string: path) }
    }

    /// `hreflang` → `href` of a page's `<link rel="alternate">`s (feeds left out).
    static func alternates(_ html: String) -> [String: String] {
        var out: [String: String] = [:]
        for m in html.matches(of: #/<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">/#) {
            out[String(m.1)] = String(m.2)
        }
        return out
    }

    @Test(arguments: TestStorage.available) func anAddressWithoutItsLanguageRedirectsOnceByChoiceCookieHeaderOrDefault(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let page = "/urgent-actions/126-19/initial"
            let plain = try await raw(app, page)
            #expect(plain.status == .found && plain.headers.first(name: .location) == "/en" + page)
            #expect(plain.headers.first(name: .vary) == "Accept-Language, Cookie")
            #expect(plain.headers.first(name: .cacheControl)?.contains("private") == true)
            #expect(try await raw(app, page, ["Accept-Language": "de-DE, fr-CA;q=0.8, en;q=0.5"]).headers.first(name: .location) == "/fr" + page)
            #expect(try await raw(app, page, ["Accept-Language": "fr", "Cookie": "vigil_lang=ar"]).headers.first(name: .location) == "/ar" + page,
                    "the switcher's cookie wins over the browser's languages")
            #expect(try await raw(app, page, ["Cookie": "vigil_lang=xx"]).headers.first(name: .location) == "/en" + page, "an unknown cookie is ignored")
            #expect(try await raw(app, "/").headers.first(name: .location) == "/en/")
            #expect(try await raw(app, "/urgent-actions?country=RU&q=Kuku").headers.first(name: .location) == "/en/urgent-actions?country=RU&q=Kuku",
                    "the query goes along as sent")
            // A signed-in supporter's own choice comes first.
            let b = Browser(app)
            try await ActionLoopTests().logIn(app, b, "ana@example.org")
            let me = try #require(try await SupporterModel.query(on: app.db).filter(\.$email == "ana@example.org").first())
            me.language = "es"
            try await me.update(on: app.db)
            var headers = b.cookieHeader
            headers.replaceOrAdd(name: .cookie, value: (headers.first(name: .cookie) ?? "") + "; vigil_lang=ru")
            headers.add(name: .acceptLanguage, value: "fr")
            #expect(try await raw(app, page, headers).headers.first(name: .location) == "/es" + page)
            // Each language's address answers in it; the language is not a page of its own.
            for l in Self.offered {
                let res = try await raw(app, "/\(l)\(page)")
                #expect(res.status == .ok, "\(l)")
                #expect(res.body.string.contains("<header class=\"site-header\" lang=\"\(l)\" dir=\"\(l == "ar" ? "rtl" : "ltr")\">"))
            }
            #expect(try await raw(app, "/fr").status == .ok)
            #expect(try await raw(app, "/fr/").status == .ok)
        }
    }

    @Test(arguments: TestStorage.available) func onlyPagesTakeALanguageAndOnlyOfferedOnes(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            for path in ["/xx/urgent-actions", "/de/urgent-actions", "/fr/feed.atom", "/fr/api/v1/cases", "/fr/sitemap.xml",
                         "/fr/urgent-actions/126-19/initial.pdf", "/fr/css/site.css", "/fr/fr/urgent-actions", "/FR/urgent-actions"] {
                let status = try await raw(app, path).status
                #expect(status == .notFound, "\(path): \(status)")
            }
            // Downloads, feeds, the API and the links sent by e-mail keep one address.
            for path in ["/feed.atom", "/sitemap.xml", "/api/v1/cases", "/urgent-actions/126-19/initial.pdf", "/robots.txt"] {
                #expect(try await raw(app, path).status == .ok, "\(path)")
            }
            #expect(try await raw(app, "/unsubscribe?token=nonsense").status != .found, "a mailed link is answered where it is")
            // A form posted to its page's address is answered in that page's language.
            let post = try await app.testing().sendRequest(.POST, "/fr/login", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                                                          body: ByteBuffer(string: "email=a%40b.org&password=x"))
            #expect(post.status == .forbidden && post.body.string.contains(#"<header class="site-header" lang="fr""#), "no form token")
        }
    }

    @Test(arguments: TestStorage.available) func aDocumentPageShowsItsTranslationIntoThePageLanguageElseTheOriginalWithANote(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            // Today's translation address moves under its language, for good.
            let old = try await raw(app, "/urgent-actions/126-19/initial/ru")
            #expect(old.status == .movedPermanently && old.headers.first(name: .location) == "/ru/urgent-actions/126-19/initial")
            let ru = try await raw(app, "/ru/urgent-actions/126-19/initial").body.string
            #expect(ru.contains(#"<article class="document" lang="ru""#) && !ru.contains("notice-untranslated"))
            // No French translation: the original, in English, with a one-line note in French.
            let fr = try await raw(app, "/fr/urgent-actions/126-19/initial").body.string
            #expect(fr.contains(#"<article class="document" lang="en""#))
            let strings = app.vigilServices.catalogue.strings(for: "fr")
            #expect(fr.contains(HTML.escape(strings.format("document_untranslated", ["page_language": "français", "language": "anglais"]))))
            #expect(fr.contains(#"<header class="site-header" lang="fr" dir="ltr">"#))
            // The Arabic original of UA 77/26 on an English page: its English translation.
            let en = try await raw(app, "/en/urgent-actions/77-26/initial").body.string
            #expect(en.contains(#"<article class="document" lang="en""#) && !en.contains("notice-untranslated"))
            let ar = try await raw(app, "/ar/urgent-actions/77-26/initial").body.string
            #expect(ar.contains(#"<article class="document" lang="ar" dir="rtl""#) && ar.contains(#"<html lang="ar" dir="rtl">"#))
            // The translations list links each translation under its own language.
            #expect(en.contains(#"href="/ar/urgent-actions/77-26/initial" hreflang="ar""#))
        }
    }

    @Test(arguments: TestStorage.available) func aTranslationIntoALanguageNotOfferedKeepsItsAddress(storage: TestStorage) async throws {
        try await withApp(storage, configure: { $0.workingLanguages = ["en", "fr"] }) { app in
            try await loadDemo(app)
            #expect(try await raw(app, "/ru/urgent-actions/126-19/initial").status == .notFound)
            let old = try await raw(app, "/fr/urgent-actions/126-19/initial/ru")
            #expect(old.status == .ok && old.body.string.contains(#"<article class="document" lang="ru""#))
            #expect(old.body.string.contains(#"<header class="site-header" lang="fr""#))
            // An original in a language not offered: the English page shows its translation, and
            // links the original at the address of its language.
            let en = try await raw(app, "/en/urgent-actions/88-26/initial").body.string
            #expect(en.contains(#"<article class="document" lang="en""#) && en.contains(#"href="/en/urgent-actions/88-26/initial/zh-Hans""#))
            let zh = try await raw(app, "/en/urgent-actions/88-26/initial/zh-Hans").body.string
            #expect(zh.contains(#"<article class="document" lang="zh-Hans""#))
        }
    }

    /// Every page names the same page in every offered language and `x-default`, and each of
    /// those names it back; the switcher offers the same languages.
    @Test(arguments: TestStorage.available) func everyPageLinksItsAlternatesAndTheyLinkBack(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let base = app.vigilServices.baseURL
            let pages = ["/", "/urgent-actions", "/urgent-actions?country=RU", "/urgent-actions/126-19/initial", "/urgent-actions/12-25/outcome",
                         "/cases/crimean-tatar-defenders-kuku", "/outcomes", "/feeds", "/signup", "/login", "/privacy", "/follow?case=crimean-tatar-defenders-kuku"]
            for page in pages {
                var sets: [[String: String]] = []
                for l in Self.offered {
                    let path = page == "/" ? "/\(l)/" : "/\(l)\(page)"
                    let res = try await raw(app, path)
                    #expect(res.status == .ok, "\(path)")
                    let html = res.body.string
                    let alternates = Self.alternates(html)
                    #expect(Set(alternates.keys) == Set(Self.offered + ["x-default"]), "\(path): \(alternates.keys.sorted())")
                    #expect(alternates[l] == base + path, "\(path) names itself")
                    #expect(alternates["x-default"] == base + page)
                    // The switcher: every language, the current one marked, each to this same page.
                    let switcher = html.matches(of: #/<a href="/language\?to=([a-z-]+)&amp;next=([^"]+)" hreflang/#)
                    #expect(switcher.map { String($0.1) }.sorted() == Self.offered.sorted(), "\(path)")
                    #expect(switcher.allSatisfy { String($0.2).removingPercentEncoding == page.replacingOccurrences(of: "&", with: "&amp;") || String($0.2).removingPercentEncoding?.replacingOccurrences(of: "&amp;", with: "&") == page }, "\(path)")
                    #expect(html.contains(#"hreflang="\#(l)" lang="\#(l)" dir="\#(l == "ar" ? "rtl" : "ltr")" rel="nofollow" aria-current="true""#))
                    sets.append(alternates)
                }
                #expect(Set(sets.map { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }).count == 1,
                        "\(page): every language names the same set")
            }
        }
    }

    @Test(arguments: TestStorage.available) func theSwitcherRemembersTheChoiceAndGoesNowhereElse(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let res = try await raw(app, "/language?to=ar&next=%2Furgent-actions%2F126-19%2Finitial")
            #expect(res.status == .seeOther && res.headers.first(name: .location) == "/ar/urgent-actions/126-19/initial")
            let cookie = try #require(res.headers[.setCookie].first { $0.hasPrefix("vigil_lang=ar") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Max-Age=31536000"))
            #expect(try await raw(app, "/urgent-actions", ["Cookie": "vigil_lang=ar"]).headers.first(name: .location) == "/ar/urgent-actions")
            // A page that has a language of its own already: the other language's address.
            #expect(try await raw(app, "/language?to=fr&next=%2Fru%2Fcases%2Fcrimean-tatar-defenders-kuku").headers.first(name: .location)
                    == "/fr/cases/crimean-tatar-defenders-kuku")
            // A mailed link keeps its address (and its token).
            #expect(try await raw(app, "/language?to=fr&next=%2Funsubscribe%3Ftoken%3Dabc").headers.first(name: .location) == "/unsubscribe?token=abc")
            // …and when it names its mail's language, the choice replaces it (else the page stayed in the mail's).
            let swapped = try #require(try await raw(app, "/language?to=es&next=%2Fverify%3Ftoken%3Dabc%26lang%3Dfr").headers.first(name: .location))
            #expect(swapped.hasPrefix("/verify?") && swapped.contains("token=abc") && swapped.contains("lang=es") && !swapped.contains("lang=fr"), "\(swapped)")
            // Hostile `next`: another site, a scheme, a path that is no page: home, in that language.
            for next in ["//evil.example/x", "https://evil.example/", "%2F%2Fevil.example", "/%2F%2Fevil.example", "/\\evil.example", "javascript:alert(1)",
                         "/nope/nope/nope", "/language?to=ru", String(repeating: "/a", count: 600)] {
                let r = try await raw(app, "/language?to=es&next=\(Endpoint.percentEncode(next))")
                #expect(r.status == .seeOther && r.headers.first(name: .location) == "/es/", "\(next.prefix(40)) → \(r.headers.first(name: .location) ?? "")")
            }
            #expect(try await raw(app, "/language?to=xx&next=%2F").status == .notFound)
            #expect(try await raw(app, "/language?to=xx").headers[.setCookie].isEmpty)
        }
    }

    /// Lists show a document once, in the page's language where it is translated (UA 12/25's
    /// outcome was listed twice, in English and in Spanish); search in the page's language finds
    /// its translations.
    @Test(arguments: TestStorage.available) func listsShowEachDocumentOnceInThePageLanguage(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let outcomesEN = try await raw(app, "/en/urgent-actions?kind=outcome").body.string
            #expect(outcomesEN.contains(app.vigilServices.catalogue.english.plural("results", 2)))
            #expect(outcomesEN.contains(#"href="/en/urgent-actions/12-25/outcome""#))
            let es = app.vigilServices.catalogue.strings(for: "es")
            let outcomesES = try await raw(app, "/es/urgent-actions?kind=outcome").body.string
            #expect(outcomesES.contains(es.plural("results", 2)))
            let spanish = try #require(try await DocumentModel.find("ua-12-25-1-es", on: app.db))
            #expect(outcomesES.contains(HTML.escape(spanish.title)), "the Spanish translation's title on the Spanish page")
            let home = try await raw(app, "/en/").body.string
            let english = try #require(try await DocumentModel.find("ua-12-25-1-en", on: app.db))
            #expect(home.contains(HTML.escape(english.title)) && !home.contains(HTML.escape(spanish.title)), "the English home page, once in English")
            let homeES = try await raw(app, "/es/").body.string
            #expect(homeES.contains(HTML.escape(spanish.title)) && !homeES.contains(HTML.escape(english.title)))
            // Search: a word of the Spanish translation only, on the Spanish page.
            let word = try #require(spanish.title.split(separator: " ").map(String.init).filter { $0.count > 5 }.first)
            let found = try await raw(app, "/es/urgent-actions?q=\(Endpoint.percentEncode(word))").body.string
            #expect(found.contains(HTML.escape(spanish.title)))
        }
    }

    @Test(arguments: TestStorage.available) func theSitemapFeedsAndRobotsKnowTheLanguages(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let base = app.vigilServices.baseURL
            let sitemap = try await raw(app, "/sitemap.xml").body.string
            for l in Self.offered {
                #expect(sitemap.contains("<loc>\(base)/\(l)/urgent-actions/12-25/outcome</loc>"))
                #expect(sitemap.contains(#"<xhtml:link rel="alternate" hreflang="\#(l)" href="\#(base)/\#(l)/cases/crimean-tatar-defenders-kuku"/>"#))
            }
            #expect(sitemap.components(separatedBy: "<loc>\(base)/en/urgent-actions/12-25/outcome</loc>").count == 2, "once per language")
            #expect(sitemap.contains(#"hreflang="x-default" href="\#(base)/urgent-actions/12-25/outcome""#))
            let robots = try await raw(app, "/robots.txt").body.string
            #expect(robots.contains("Disallow: /account\n") && robots.contains("Disallow: /fr/account\n") && robots.contains("Disallow: /ar/signup\n"))
            // Feeds: the default language, or `?lang=`; one entry per document.
            let fr = try await raw(app, "/feed.atom?lang=fr").body.string
            let frStrings = app.vigilServices.catalogue.strings(for: "fr")
            #expect(fr.contains("<title>\(XMLText.escape(frStrings["site_name"] + ": " + frStrings["list_title"]))</title>"))
            #expect(fr.contains("\(base)/fr/urgent-actions/12-25/outcome") && !fr.contains("/en/urgent-actions"))
            let en = try await raw(app, "/feed.atom").body.string
            #expect(en.components(separatedBy: "<entry").count - 1 == 7, "eleven documents, four of them translations")
            #expect(try await raw(app, "/feed.atom?lang=xx").status == .notFound)
            let es = try await raw(app, "/feed.atom?lang=es").body.string
            #expect(es.contains(XMLText.escape(try #require(try await DocumentModel.find("ua-12-25-1-es", on: app.db)).title)))
        }
    }

    @Test(arguments: TestStorage.available) func aFormAnswersInTheLanguageOfThePageItWasOn(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            let (page, html) = try await b.get("/ar/login")
            #expect(page.status == .ok && html.contains(#"<input type="hidden" name="lang" value="ar">"#))
            let (res, answer) = try await b.post("/login", ["email": "nobody@example.org", "password": "wrong wrong wrong", "lang": "ar"], csrfFrom: "/ar/login")
            #expect(res.status == .unauthorized || res.status == .unprocessableEntity || res.status == .ok)
            #expect(answer.contains(#"<header class="site-header" lang="ar" dir="rtl">"#), "\(answer.prefix(400))")
            #expect(answer.contains(HTML.escape(app.vigilServices.catalogue.strings(for: "ar")["login_failed"])))
            // A form without `lang` answers in the visitor's language.
            let (_, fr) = try await b.post("/login", ["email": "nobody@example.org", "password": "wrong wrong wrong"], csrfFrom: "/login",
                                            headers: ["Accept-Language": "fr"])
            #expect(fr.contains(#"<header class="site-header" lang="fr""#))
        }
    }

    /// A link sent by e-mail keeps its address and opens in the language of its mail, whatever the
    /// browser that opens it says.
    @Test(arguments: TestStorage.available) func aMailedLinkOpensInTheLanguageOfItsMail(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            let (res, _) = try await b.post("/signup", ["email": "fr@example.org", "display_name": "Ana", "language": "fr",
                                                        "password": AccountTests().password], csrfFrom: "/fr/signup")
            #expect(res.status == .ok)
            let mail = try #require(try await lastMail(to: "fr@example.org", app))
            let verify = try #require(link(in: mail.textBody, path: "/verify?token="))
            #expect(verify.hasSuffix("&lang=fr"), "\(verify)")
            let page = try await raw(app, verify, ["Accept-Language": "ru", "Cookie": "vigil_lang=ar"])
            #expect(page.status == .ok && page.body.string.contains(#"<header class="site-header" lang="fr""#))
            // Without it (a link mailed before), the visitor's language.
            let plain = String(verify.prefix { $0 != "&" })
            #expect(try await raw(app, plain, ["Accept-Language": "ru"]).body.string.contains(#"<header class="site-header" lang="ru""#))
            // A language not offered is ignored.
            #expect(try await raw(app, plain + "&lang=xx", ["Accept-Language": "es"]).body.string.contains(#"<header class="site-header" lang="es""#))
        }
    }

    /// What is not a page but still speaks the visitor's language says so to caches, and what
    /// refuses with only a status's name says it in the request's language.
    @Test(arguments: TestStorage.available) func downloadsAndBareRefusalsFollowTheVisitorsLanguage(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            // The letter-writing pack: its cover and translations are the visitor's language.
            let pack = try await raw(app, "/pack.pdf", ["Accept-Language": "fr"])
            #expect(pack.status == .ok)
            let vary = pack.headers.first(name: .vary) ?? ""
            #expect(vary.contains("Accept-Language") && vary.contains("Cookie"), "\(vary)")
            let pdf = String(decoding: Data(buffer: pack.body), as: UTF8.self)
            #expect(pdf.contains("/Lang (fr)") && pdf.contains("(Sommaire)"), "the contents bookmark in French")
            // A bare 404 of the API, in French; in English without Accept-Language.
            let fr = try await raw(app, "/api/v1/nothing-here", ["Accept-Language": "fr"])
            #expect(fr.status == .notFound && fr.body.string.contains(#""reason":"Introuvable""#), "\(fr.body.string)")
            #expect(try await raw(app, "/api/v1/nothing-here").body.string.contains(#""reason":"Not Found""#))
            // A list is kept under its filters as checked: its alternates name those, not a visitor's raw query.
            let long = try await raw(app, "/fr/urgent-actions?q=" + String(repeating: "a", count: 900) + "&page=1")
            #expect(long.status == .ok)
            let links = Self.alternates(long.body.string)
            #expect(links.count == Self.offered.count + 1 && links.values.allSatisfy { !$0.contains(String(repeating: "a", count: 201)) && !$0.contains("page=") },
                    "\(links.values.map(\.count))")
            // The old editor's address: once to the address without a language, which then redirects by the visitor.
            let old = try await raw(app, "/editor", ["Accept-Language": "ru"])
            #expect(old.headers.first(name: .location) == "/newsroom", "\(old.headers.first(name: .location) ?? "")")
        }
    }

    /// `VIGIL_PSEUDO_LOCALE=1`: every catalogue string accented and longer; a plain English word
    /// in the site's own words is one that bypasses the catalogue.
    @Test(arguments: [TestStorage.sqlite]) func thePseudoLocaleLeavesNoPlainEnglishInTheSitesOwnWords(storage: TestStorage) async throws {
        try await withApp(storage, configure: { $0.pseudoLocale = true }) { app in
            try await loadDemo(app)
            #expect(try await raw(app, "/").headers.first(name: .location) == "/en-XA/")
            let pseudo = PseudoLocale.transform("Log in to {site}: see https://example.org/x")
            #expect(pseudo.hasPrefix("⟦Ļöĝ îñ ţö {site}: šéé https://example.org/x") && pseudo.count >= Int(Double(39) * 1.4))
            for page in ["/en-XA/", "/en-XA/urgent-actions", "/en-XA/urgent-actions/126-19/initial", "/en-XA/cases/crimean-tatar-defenders-kuku",
                         "/en-XA/outcomes", "/en-XA/feeds", "/en-XA/signup", "/en-XA/login", "/en-XA/privacy"] {
                let html = try await raw(app, page).body.string
                for region in [("<header class=\"site-header\"", "</header>"), ("<footer", "</footer>")] {
                    guard let start = html.range(of: region.0), let end = html.range(of: region.1, range: start.upperBound..<html.endIndex) else {
                        Issue.record("\(page): no \(region.0)"); continue
                    }
                    let text = String(html[start.lowerBound..<end.lowerBound]).replacing(#/<[^>]*>/#, with: " ")
                    // Language names are in their own language (English is "English" in every UI).
                    let words = text.split(whereSeparator: { !$0.isLetter }).map(String.init)
                        .filter { $0.count >= 3 && $0.allSatisfy { $0.isASCII } && $0 != "English" }
                    #expect(words.isEmpty, "\(page): plain English \(words.prefix(10))")
                }
            }
        }
    }
}
