import Foundation
import Vapor
import VigilCore

/// The frame every page shares: its title and description, its language and direction (of the
/// content, and of the site's own words), its canonical address and translations, which
/// navigation item it is, and its feed.
struct PageFrame: Encodable, Sendable {
    var title: String
    var description: String
    /// Absolute; nil for pages that have no public address (forms, account pages).
    var canonical: String?
    var lang: String
    var dir: String
    var uiLang: String
    var uiDir: String
    var ogType = "website"
    /// The same page in every language offered (absolute addresses), for `hreflang` links; and
    /// its address without a language, which sends each visitor to theirs (`x-default`).
    var alternates: [Alternate] = []
    var xDefault: String?
    /// The language switcher: each offered language, by its own name, to this same page.
    var languages: [LanguageLink] = []
    var navActions = false
    var navOutcomes = false
    var feed: FeedLink?

    struct Alternate: Encodable, Sendable { var lang: String; var href: String }
    struct LanguageLink: Encodable, Sendable { var lang: String; var dir: String; var name: String; var href: String; var current: Bool }
    struct FeedLink: Encodable, Sendable { var title: String; var href: String }

    enum Nav { case actions, outcomes }

    /// A page in `lang` (the content's language) with the site's words in `strings`.
    init(title: String, description: String? = nil, canonical: String? = nil, lang: String? = nil, strings: Strings,
         nav: Nav? = nil, feed: FeedLink? = nil, alternates: [Alternate] = [], ogType: String = "website") {
        let lang = lang ?? strings.language
        self.title = title
        self.description = description ?? title
        self.canonical = canonical
        self.lang = lang
        self.dir = LanguageTag.isRightToLeft(lang) ? "rtl" : "ltr"
        self.uiLang = strings.language
        self.uiDir = LanguageTag.isRightToLeft(strings.language) ? "rtl" : "ltr"
        self.ogType = ogType
        self.alternates = alternates
        self.navActions = nav == .actions
        self.navOutcomes = nav == .outcomes
        self.feed = feed
    }

    /// The alternates and the switcher of the page `req` asked for, in the languages offered. A
    /// page answering a form (a POST) switches to the form's page; one without an address of its
    /// own in each language (a link sent by e-mail) switches in place, by the cookie.
    /// An error page (`samePage: false`) has no alternates, and switches to the home page: the
    /// address that failed is not repeated (a withdrawn action's page names nothing).
    mutating func addLanguages(_ req: Request, _ languages: SiteLanguages, baseURL: String, samePage: Bool = true) {
        var page = samePage ? (req.storage[EndpointKey.self] ?? .home) : .home
        let route = page
        if route.name.method != .GET {
            page = Endpoint.parse(method: .GET, path: route.unlocalizedPath) ?? .home
        }
        // A `next` that is no local path (the log-in page drops it) is not repeated either.
        if let next = page.query["next"], AccountController.localPath(next) == nil {
            var query = page.query
            query["next"] = nil
            page = Endpoint(page.name, page.values, query: query, language: page.language)
        }
        if samePage, page.name.isLocalized {
            alternates = languages.offered.map { Alternate(lang: $0, href: baseURL + page.in($0).path) }
            xDefault = baseURL + page.unlocalizedPath
        }
        let current = req.answerLanguage
        self.languages = languages.offered.map { l in
            LanguageLink(lang: l, dir: LanguageTag.isRightToLeft(l) ? "rtl" : "ltr", name: Format.nativeLanguageName(l),
                         href: Endpoint(.chooseLanguage, query: ["to": l, "next": page.unlocalizedPath]).path, current: l == current)
        }
    }

    static let example = PageFrame(title: "Kazakhstan: free the poet", description: "Write to the Prosecutor General.",
                                   canonical: "https://vigil.example.org/urgent-actions/126-19/initial", lang: "en",
                                   strings: Strings(language: "en", table: [:]), nav: .actions,
                                   feed: FeedLink(title: "Crimean Tatar defenders", href: "/cases/crimean-tatar-defenders-kuku/feed.atom"),
                                   alternates: [Alternate(lang: "en", href: "https://vigil.example.org/en/urgent-actions/126-19/initial"),
                                                Alternate(lang: "ru", href: "https://vigil.example.org/ru/urgent-actions/126-19/initial")],
                                   ogType: "article")
        .with {
            $0.xDefault = "https://vigil.example.org/urgent-actions/126-19/initial"
            $0.languages = [LanguageLink(lang: "en", dir: "ltr", name: "English", href: "/language?to=en&next=%2Furgent-actions%2F126-19%2Finitial", current: true),
                            LanguageLink(lang: "ar", dir: "rtl", name: "العربية", href: "/language?to=ar&next=%2Furgent-actions%2F126-19%2Finitial", current: false)]
        }

    func with(_ change: (inout PageFrame) -> Void) -> PageFrame {
        var copy = self
        change(&copy)
        return copy
    }
}

/// A page as its template sees it: the content's own values, and beside them the frame
/// (`page`), every parameterless link (`links.…`, by route name), and for pages that are never
/// cached who is signed in and the form token (`signed_in`, `editor_nav`, `csrf`). The UI
/// strings (`t`) are added when it is rendered.
struct Page<Content: TemplateModel>: TemplateModel {
    var page: PageFrame
    var content: Content
    var links: [String: String] = Endpoint.links
    var signedIn = false
    var editorNav = false
    var csrf: String?

    private enum Keys: String, CodingKey { case page, links, signedIn, editorNav, csrf }

    func encode(to encoder: any Encoder) throws {
        try content.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(page, forKey: .page)
        try c.encode(links, forKey: .links)
        try c.encode(signedIn, forKey: .signedIn)
        try c.encode(editorNav, forKey: .editorNav)
        try c.encodeIfPresent(csrf, forKey: .csrf)
        if csrf == nil { try c.encodeNil(forKey: .csrf) }
    }

    static var example: Page { Page(page: .example, content: .example, signedIn: true, editorNav: true, csrf: "a-form-token") }
}

extension Endpoint {
    /// Every route without parameters, by its template key: what a template knows as `links.…`,
    /// in the language the request is answered in.
    static var links: [String: String] { linkTables.with(Localized.language) { $0 } }

    private static let linkTables = PerLanguage<[String: String]> { language in
        Dictionary(uniqueKeysWithValues: Name.allCases
            .filter { !$0.segments.contains(where: \.isParameter) }
            .map { ($0.templateKey, Endpoint($0, language: language).path) })
    }
}
