//! Lambda function `invitations_resend`: serves `tenant::routes::invitations::resend`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::invitations::resend)
}
