import Foundation

/// `confirm`: a page with one button that posts the token of a mailed link to `action`, so that
/// a mail scanner that follows every link changes nothing (verify, log-in link, new address).
struct ConfirmPage: TemplateModel {
    var heading: String
    var text: String
    /// Where the button posts.
    var action: String
    var token: String
    var button: String

    static let example = ConfirmPage(heading: "Confirm your address", text: "Press the button to confirm your e-mail address.",
                                     action: "/verify", token: "q3v1M2x9lYwq4hJ8s0aT", button: "Confirm")
}
