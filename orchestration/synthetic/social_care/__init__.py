"""Children's social care: referrals and CIN episodes, child protection, periods of care, and the records
around them, written as Standard Safeguarding Dataset tables."""
