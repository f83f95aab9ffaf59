//! Lambda function `audit_list`: serves `tenant::routes::audit::list`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::audit::list)
}
