//! Lambda function `invitations_list`: serves `tenant::invitations::list`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::invitations::list)
}
