import Foundation

/// `/login`: the log-in form; after a failure, the one message and the address typed. `next`:
/// the local path to return to after logging in (checked by `AccountController.localPath`), or empty.
struct LoginPage: TemplateModel {
    var errors: [String] = []
    var email = ""
    var next = ""

    static let example = LoginPage(errors: ["The e-mail address or the password is wrong."], email: "ana@example.org",
                                   next: "/follow?case=crimean-tatar-defenders-kuku")
}
