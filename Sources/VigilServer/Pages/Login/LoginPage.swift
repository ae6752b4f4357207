import Foundation

/// `/login`: the log-in form; after a failure, the one message and the address typed. `next`:
/// the local path to return to after logging in (checked by `AccountController.localPath`), or empty.
struct LoginPage: TemplateModel {
    var errors: [String] = []
    var email = ""
    var next = ""
    /// "Create an account", carrying `next` on to the sign-up and its confirmation.
    var signupHref: String { Endpoint(.signupForm, query: ["next": next]).path }

    static let example = LoginPage(errors: ["The e-mail address or the password is wrong."], email: "ana@example.org",
                                   next: "/follow?case=crimean-tatar-defenders-kuku")

    enum CodingKeys: String, CodingKey { case errors, email, next, signupHref }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(errors, forKey: .errors); try c.encode(email, forKey: .email); try c.encode(next, forKey: .next)
        try c.encode(signupHref, forKey: .signupHref)
    }
}
