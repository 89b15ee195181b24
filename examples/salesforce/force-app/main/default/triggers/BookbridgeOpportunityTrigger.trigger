/**
 * Sends an Opportunity to bookbridge when its stage changes to
 * "Closed Booked". All logic lives in BookbridgeDealTriggerHandler.
 */
trigger BookbridgeOpportunityTrigger on Opportunity (after update) {
    BookbridgeDealTriggerHandler.afterUpdate(Trigger.new, Trigger.oldMap);
}
