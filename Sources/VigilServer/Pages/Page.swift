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
    /// The same page in other languages (absolute addresses).
    var alternates: [Alternate] = []
    var navActions = false
    var navOutcomes = false
    var feed: FeedLink?

    struct Alternate: Encodable, Sendable { var lang: String; var href: String }
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

    static let example = PageFrame(title: "Kazakhstan: free the poet", description: "Write to the Prosecutor General.",
                                   canonical: "https://vigil.example.org/urgent-actions/126-19/initial", lang: "en",
                                   strings: Strings(language: "en", table: [:]), nav: .actions,
                                   feed: FeedLink(title: "Crimean Tatar defenders", href: "/cases/crimean-tatar-defenders-kuku/feed.atom"),
                                   alternates: [Alternate(lang: "ru", href: "https://vigil.example.org/urgent-actions/126-19/initial/ru")],
                                   ogType: "article")
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
    /// Every route without parameters, by its template key: what a template knows as `links.…`.
    static let links: [String: String] = Dictionary(uniqueKeysWithValues: Name.allCases
        .filter { !$0.segments.contains(where: \.isParameter) }
        .map { ($0.templateKey, Endpoint($0).path) })
}
