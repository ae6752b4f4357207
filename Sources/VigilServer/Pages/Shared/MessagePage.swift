import Foundation

/// `account-message`: a page that only says something — a heading and a sentence (a sent mail,
/// a done change, a bad link). `PrivatePage.message` renders it.
struct MessagePage: TemplateModel {
    var heading: String
    var text: String
    /// The step to take next, shown as a button before the way home ("Log in and continue").
    var next: LabelledLink? = nil

    static let example = MessagePage(heading: "Check your e-mail",
                                     text: "We have sent a link to confirm your address. It is valid for 48 hours.",
                                     next: LabelledLink(href: "/login", label: "Log in and continue"))
}
