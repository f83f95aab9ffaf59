//! Lambda function `org_delete`: serves `tenant::org::delete`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::org::delete)
}
