//! Lambda function `audit_list`: serves `tenant::audit_log::list`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::audit_log::list)
}
