//! Lambda function `auth_verify_email`: serves `tenant::routes::accounts::request_verification`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::accounts::request_verification)
}
