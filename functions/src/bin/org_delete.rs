//! Lambda function `org_delete`: serves `tenant::routes::organizations::delete`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::organizations::delete)
}
