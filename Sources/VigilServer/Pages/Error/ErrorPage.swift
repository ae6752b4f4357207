import Foundation
import Vapor
import VigilCore

/// `error`: the site's own error page (404, 500, …) in the site's look. No form, no session: it
/// is rendered for any request that failed, outside `PrivatePage`.
struct ErrorPage: TemplateModel {
    var heading: String
    var message: String

    static let example = ErrorPage(heading: "Page not found", message: "There is no page at this address.")
}

extension ErrorPage {
    /// The words for `status`: the reason given for a 404 (unless Vapor's bare "Not Found"), a
    /// 400, a 503 and others; never the reason of a 500.
    init(status: HTTPResponseStatus, reason: String, strings t: Strings) {
        switch status.code {
        case 404: self.init(heading: t["error_404_title"], message: reason.isEmpty || reason == "Not Found" ? t["error_404_text"] : reason)
        // Unavailable for now (the database unreachable, too many documents being prepared): the
        // refusal's own words, which say what to do.
        case 503: self.init(heading: t["error_title"], message: reason)
        case 500...: self.init(heading: t["error_500_title"], message: t["error_500_text"])
        case 400: self.init(heading: t["error_400_title"], message: reason)
        // A withdrawn action's addresses (`Withdrawal`): a neutral notice that names nothing.
        case 410 where reason == Withdrawal.goneReason: self.init(heading: t["error_withdrawn_title"], message: t["error_withdrawn_text"])
        default: self.init(heading: t["error_title"], message: reason)
        }
    }
}
