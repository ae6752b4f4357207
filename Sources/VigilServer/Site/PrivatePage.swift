import Vapor
import VigilCore

/// Renders the pages that are never cached — forms and account pages — the one way: the plain
/// page frame, the UI strings, a CSRF token for the forms (setting the anonymous CSRF cookie
/// when the browser has none), and `Cache-Control: no-store`.
struct PrivatePage: Sendable {
    let views: ViewRenderer
    let strings: Strings
    let auth: Auth

    /// Renders a page from its model: the plain frame, who is signed in, the form token.
    func render<C: TemplateModel>(_ req: Request, _ template: String, title: String, description: String? = nil,
                                  status: HTTPStatus = .ok, content: C) throws -> Response {
        let (token, newCookie) = auth.csrfForPage(req)
        var frame = PageFrame(title: title, description: description, strings: strings)
        frame.addLanguages(req, req.application.vigilServices.languages, baseURL: req.application.vigilServices.baseURL)
        let page = Page(page: frame, content: content,
                        signedIn: req.currentSession != nil, editorNav: req.currentSession?.supporter.isNewsroom == true, csrf: token)
        let response = Response(status: status, headers: ["Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"],
                                body: .init(string: try views.render(template, page, strings: strings)))
        if let newCookie { response.cookies[auth.csrfCookie] = auth.cookie(newCookie, maxAge: nil) }
        return response
    }

    /// A page that only says something: a heading and a sentence.
    func message(_ req: Request, title: String, text: String, status: HTTPStatus = .ok, next: LabelledLink? = nil) throws -> Response {
        try render(req, "account-message", title: title, status: status, content: MessagePage(heading: title, text: text, next: next))
    }
}
