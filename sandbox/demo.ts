import type { AuthKitUser } from '../test/fixtures/authkit.ts'
import type { Corpus } from '../test/fixtures/retrieve.ts'

/** The sandbox's one organization; `mapping.json` maps it to the partition below. */
export const DEMO_ORG = { id: 'org_01SANDBOXACME000000000000', name: 'Acme Corp', partition: 'acme-handbook' } as const

/** Alice is an active member of the demo organization. */
export const ALICE: AuthKitUser = { id: 'user_01SANDBOXALICE00000000000', email: 'alice@acme.test', name: 'Alice (member)', organizationId: DEMO_ORG.id }

/** Bob can sign in, but belongs to no organization: the gateway answers him 403. */
export const BOB: AuthKitUser = { id: 'user_01SANDBOXBOB0000000000000', email: 'bob@example.test', name: 'Bob (not a member)' }

export const DEMO_USERS = [ALICE, BOB]

/** What the demo Ragie finds in each partition. */
export const DEMO_DOCUMENTS: Corpus = {
  [DEMO_ORG.partition]: [
    { id: 'doc_vacation', name: 'Vacation policy', text: 'Every employee has 25 vacation days a year. Unused vacation days carry over until March 31 of the next year. Ask your manager two weeks ahead.' },
    { id: 'doc_expenses', name: 'Expense policy', text: 'Travel and meal expenses are reimbursed within 30 days. Keep every receipt. Expenses above 500 euros need approval from finance first.' },
    { id: 'doc_security', name: 'Security policy', text: 'Laptops use full-disk encryption and lock after 5 minutes. Report a lost laptop or a phishing email to security within one hour. Our SOC 2 audit runs every spring.' },
    { id: 'doc_onboarding', name: 'Onboarding checklist', text: 'In your first week: set up your laptop, enable two-factor authentication, read the security policy and meet your onboarding buddy.' },
    { id: 'doc_oncall', name: 'On-call handbook', text: 'On-call engineers answer a page within 15 minutes. Rotations last one week and hand over on Monday at 10:00. Escalate to the incident commander after 30 minutes.' }
  ]
}
