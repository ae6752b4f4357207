import Vapor
import VigilCore

/// Renders the pages that are never cached — forms and account pages — the one way: the plain
/// page frame, the UI strings, a CSRF token for the forms (setting the anonymous CSRF cookie
/// when the browser has none), and `Cache-Control: no-store`.
struct PrivatePage: Sendable {
    let views: ViewRenderer
    let strings: Strings
    let auth: Auth

    /// The page frame of a page that has no canonical address or translations.
    static func frame(title: String, description: String? = nil, strings: Strings) -> TemplateValue {
        let dir: TemplateValue = .string(LanguageTag.isRightToLeft(strings.language) ? "rtl" : "ltr")
        return [
            "title": .string(title), "description": .string(description ?? title), "canonical": "", "lang": .string(strings.language),
            "dir": dir, "ui_lang": .string(strings.language), "ui_dir": dir, "og_type": "website", "alternates": .list([]),
        ]
    }

    func render(_ req: Request, _ template: String, title: String, description: String? = nil, status: HTTPStatus = .ok,
                _ values: [String: TemplateValue] = [:]) throws -> Response {
        let (token, newCookie) = auth.csrfForPage(req)
        var context = values
        context["page"] = Self.frame(title: title, description: description, strings: strings)
        context["csrf"] = .string(token)
        // Pages that are never cached may say who is logged in (cached public pages say "Log in";
        // /login sends a logged-in visitor on to the account).
        context["signed_in"] = .bool(req.currentSession != nil)
        context["editor_nav"] = .bool(req.currentSession?.supporter.isEditor == true)
        context["t"] = strings.templateValue
        context["links"] = Endpoint.templateLinks
        let response = Response(status: status, headers: ["Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"],
                                body: .init(string: try views.render(template, .object(context))))
        if let newCookie { response.cookies[auth.csrfCookie] = auth.cookie(newCookie, maxAge: nil) }
        return response
    }

    /// A page that only says something: a heading and a sentence.
    func message(_ req: Request, title: String, text: String, status: HTTPStatus = .ok) throws -> Response {
        try render(req, "account-message", title: title, status: status, ["heading": .string(title), "text": .string(text)])
    }
}
