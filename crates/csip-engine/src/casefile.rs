pub struct CaseFile; pub struct CaseFileError; pub struct CaseOutcome; pub struct CaseReport;
