//! Lambda function `invitations_resend`: serves `tenant::invitations::resend`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::invitations::resend)
}
