//! Lambda function `auth_verify_email_confirm`: serves `tenant::routes::accounts::confirm_verification`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::accounts::confirm_verification)
}
