//! Lambda function `invitations_list`: serves `tenant::routes::invitations::list`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::invitations::list)
}
